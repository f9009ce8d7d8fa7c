//! Progress of upstream calls, routed back to the caller without loss.
//!
//! rmcp hands each notification to the client handler on a task of its own, while a response
//! goes straight to the waiting request: a progress notification the upstream sent just before
//! its response could reach a route lookup after the call had returned and its route was gone
//! (and the first one could arrive before the route was registered). So progress is not taken
//! from the handler: [`Routed`] wraps the upstream transport and, in the transport's own
//! (sequential) receive loop, puts every progress notification of a routed call into that
//! call's queue before the next message (its response) is handed on. The route exists before
//! the request is sent: the call registers it first and marks its request with the route's id
//! (a private `_meta` key the transport removes and replaces by the link from rmcp's progress
//! token to the route). The call forwards its queue while it waits and drains it before it
//! returns, so every notification that arrived before the response reaches the caller first.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::RoleClient;
use rmcp::model::{
    JsonRpcMessage, NumberOrString, ProgressNotificationParam, ProgressToken, ServerNotification,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

/// The private `_meta` key that marks a request with its route; never reaches the upstream.
pub const ROUTE_META: &str = "io.toolyard/progressRoute";

#[derive(Default)]
struct Table {
    /// Route id → the call's queue.
    queues: HashMap<u64, mpsc::UnboundedSender<ProgressNotificationParam>>,
    /// Upstream progress token → route id (linked when the request is sent).
    tokens: HashMap<String, u64>,
    /// Route id → its upstream token, to unlink it when the route ends.
    token_of: HashMap<u64, String>,
}

/// The routes of one upstream's calls in flight.
#[derive(Default)]
pub struct ProgressRoutes {
    next: AtomicU64,
    table: Mutex<Table>,
}

/// One call's route: its id (put on the request with [`ROUTE_META`]) and its queue. Dropping it
/// removes the route.
pub struct ProgressRoute {
    routes: Arc<ProgressRoutes>,
    /// The id to mark the request with.
    pub id: u64,
    queue: mpsc::UnboundedReceiver<ProgressNotificationParam>,
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        if let Ok(mut t) = self.routes.table.lock() {
            t.queues.remove(&self.id);
            if let Some(token) = t.token_of.remove(&self.id) {
                t.tokens.remove(&token);
            }
        }
    }
}

impl ProgressRoute {
    /// The next queued notification (waits; never ends while the route lives).
    pub async fn next(&mut self) -> Option<ProgressNotificationParam> {
        self.queue.recv().await
    }

    /// A queued notification, without waiting.
    pub fn try_next(&mut self) -> Option<ProgressNotificationParam> {
        self.queue.try_recv().ok()
    }
}

impl ProgressRoutes {
    /// Opens a route; register it before the request is sent.
    pub fn register(self: &Arc<Self>) -> ProgressRoute {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, queue) = mpsc::unbounded_channel();
        if let Ok(mut t) = self.table.lock() {
            t.queues.insert(id, tx);
        }
        ProgressRoute {
            routes: self.clone(),
            id,
            queue,
        }
    }

    /// Links the upstream progress token of an outgoing request to its route.
    fn link(&self, route: u64, token: &ProgressToken) {
        if let Ok(mut t) = self.table.lock()
            && t.queues.contains_key(&route)
        {
            let key = token_key(token);
            t.tokens.insert(key.clone(), route);
            t.token_of.insert(route, key);
        }
    }

    /// Queues a notification on its call's route; `false` when no route has its token.
    fn deliver(&self, params: &ProgressNotificationParam) -> bool {
        let Ok(t) = self.table.lock() else {
            return false;
        };
        match t
            .tokens
            .get(&token_key(&params.progress_token))
            .and_then(|id| t.queues.get(id))
        {
            Some(queue) => queue.send(params.clone()).is_ok(),
            None => false,
        }
    }

    /// Routes in use (for tests: every route is removed when its call ends).
    pub fn len(&self) -> usize {
        self.table.lock().map(|t| t.queues.len()).unwrap_or(0)
    }

    /// Whether no route is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn token_key(token: &ProgressToken) -> String {
    match &token.0 {
        NumberOrString::String(s) => format!("s:{s}"),
        NumberOrString::Number(n) => format!("n:{n}"),
    }
}

/// An upstream transport with progress routing (see the module docs).
pub struct Routed<T> {
    inner: T,
    routes: Arc<ProgressRoutes>,
}

impl<T> Routed<T> {
    /// Wraps `inner`; progress of routed calls goes to `routes`.
    pub fn new(inner: T, routes: Arc<ProgressRoutes>) -> Self {
        Self { inner, routes }
    }
}

impl<T> Transport<RoleClient> for Routed<T>
where
    T: Transport<RoleClient>,
{
    type Error = T::Error;

    /// A plain name: rmcp puts it into transport errors, which reach callers.
    fn name() -> Cow<'static, str> {
        "upstream connection".into()
    }

    fn send(
        &mut self,
        mut item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(request) = &mut item {
            use rmcp::model::GetMeta;
            let meta = request.request.get_meta_mut();
            if let Some(route) = meta.0.0.remove(ROUTE_META).and_then(|v| v.as_u64())
                && let Some(token) = meta.get_progress_token()
            {
                self.routes.link(route, &token);
            }
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let message = self.inner.receive().await?;
            if let JsonRpcMessage::Notification(n) = &message
                && let ServerNotification::ProgressNotification(p) = &n.notification
                && self.routes.deliver(&p.params)
            {
                continue;
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(token: &ProgressToken, n: f64) -> ProgressNotificationParam {
        ProgressNotificationParam::new(token.clone(), n)
    }

    #[test]
    fn routed_progress_is_queued_in_order_and_the_route_ends_with_its_call() {
        let routes = Arc::new(ProgressRoutes::default());
        let mut route = routes.register();
        let token = ProgressToken(NumberOrString::Number(7));
        // Not linked yet: not ours.
        assert!(!routes.deliver(&progress(&token, 1.0)));
        routes.link(route.id, &token);
        for n in 1..=3 {
            assert!(routes.deliver(&progress(&token, f64::from(n))));
        }
        let got: Vec<f64> = std::iter::from_fn(|| route.try_next())
            .map(|p| p.progress)
            .collect();
        assert_eq!(got, vec![1.0, 2.0, 3.0]);
        drop(route);
        assert!(routes.is_empty());
        assert!(!routes.deliver(&progress(&token, 4.0)));
    }
}
