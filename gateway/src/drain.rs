//! Graceful termination in a pod. Kubernetes sends SIGTERM when it deletes a pod, and the
//! endpoints controller, kube-proxy and load balancers learn of the deletion in parallel, so for a
//! moment new connections still arrive. A process that stops accepting at once refuses them
//! (`connection refused` for callers, although the Service had a ready endpoint). So on SIGTERM
//! the gateway:
//!
//! 1. sets [`Draining`]: `/readyz` fails at once, and MCP responses carry `Connection: close`,
//!    so clients open a new connection for their next call (which, once the endpoint is gone,
//!    lands on another replica) instead of reusing one that is about to close;
//! 2. keeps accepting for the drain window (`--drain-seconds`);
//! 3. stops accepting and lets in-flight requests finish, for at most `--shutdown-timeout-seconds`.
//!
//! The operator also renders a `preStop` sleep, which delays SIGTERM itself; the drain covers
//! what is left (and gateways run without one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Set when the process starts shutting down; shared by the admin and MCP routers.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Marks the process as shutting down.
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the process is shutting down.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Middleware: while draining, responses ask the client to close the connection.
pub async fn close_connections(
    State(draining): State<Draining>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if draining.is_set() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    #[tokio::test]
    async fn responses_close_the_connection_only_while_draining() {
        let draining = Draining::default();
        let app = Router::new().route("/", get(|| async { "ok" })).layer(
            axum::middleware::from_fn_with_state(draining.clone(), close_connections),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let before = client.get(&url).send().await.unwrap();
        assert_eq!(before.headers().get(header::CONNECTION), None);
        draining.start();
        let during = client.get(&url).send().await.unwrap();
        assert_eq!(during.headers()[header::CONNECTION], "close");
        assert_eq!(during.text().await.unwrap(), "ok");
    }
}
