//! One task per upstream target: connect, list, wait for a reason to list again, repeat; reconnect
//! with backoff when the session breaks. The catalog of the last good sync is kept through
//! failures, so an unreachable upstream keeps its tools listed.
//!
//! Reasons to list again: the lists' freshness ran out (`ttlMs`, bounded by `syncInterval`, see
//! [`super::refresh`]), a `notifications/*/list_changed` from the upstream, a failed call, or a
//! reconnect.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::service::{Peer, RunningService, ServiceError};

use super::client::{UpstreamClient, connect};
use super::listing::{Page, list_all};
use super::refresh::{merge_hints, next_refresh};
use super::{Catalog, UpstreamError, UpstreamHandle};

/// First reconnect delay; doubles up to [`MAX_BACKOFF`]. A failed call also wakes the manager.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest reconnect delay.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs until the handle is stopped (target removed or its connection settings changed).
pub async fn run(handle: Arc<UpstreamHandle>) {
    let mut stop = handle.stop.subscribe();
    let mut session: Option<RunningService<RoleClient, UpstreamClient>> = None;
    let mut backoff = MIN_BACKOFF;
    loop {
        if *stop.borrow() {
            break;
        }
        if session.as_ref().is_none_or(|s| s.is_transport_closed()) {
            handle.set_connected(None);
            session = None;
            match connect(&handle).await {
                Ok(s) => {
                    handle.set_connected(Some(s.peer().clone()));
                    session = Some(s);
                    backoff = MIN_BACKOFF;
                }
                Err(e) => {
                    handle.record_error(&e);
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = handle.wake.notified() => {}
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(s) = &session else { continue };
        let refresh = match sync(&handle, s.peer()).await {
            Ok(synced) => {
                let refresh = next_refresh(synced.ttl_ms, handle.sync_interval);
                handle.record_catalog(synced.catalog);
                handle.record_refresh(synced.ttl_ms, refresh);
                refresh
            }
            Err(e) => {
                handle.record_error(&e);
                // Reconnect: a broken session or an expired one the transport could not renew.
                if let Some(s) = session.take() {
                    close(s).await;
                }
                handle.set_connected(None);
                continue;
            }
        };
        tokio::select! {
            _ = stop.changed() => {}
            _ = handle.wake.notified() => {}
            _ = tokio::time::sleep(refresh.after) => {}
        }
    }
    handle.set_connected(None);
    if let Some(s) = session {
        close(s).await;
    }
}

/// Ends a session without waiting long for the upstream.
async fn close(session: RunningService<RoleClient, UpstreamClient>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), session.cancel()).await;
}

/// One successful sync: the catalog and the freshness hint of its lists.
struct Synced {
    catalog: Catalog,
    /// The shortest `ttlMs` of the lists' pages, as the upstream sent them (see [`merge_hints`]).
    ttl_ms: Option<u64>,
}

/// Lists everything the upstream offers (each list following its cursors), within the timeout.
/// A `Static` target's tools are declared, so `tools/list` is never sent for it.
async fn sync(handle: &UpstreamHandle, peer: &Peer<RoleClient>) -> Result<Synced, UpstreamError> {
    let caps = peer
        .peer_info()
        .map(|i| i.capabilities.clone())
        .unwrap_or_default();
    let mut catalog = Catalog::default();
    let mut hints = Vec::with_capacity(4);
    if !handle.pinned && caps.tools.is_some() {
        let list = request(
            handle,
            "tools/list",
            list_all(|p| async move {
                let r = peer.list_tools(p).await?;
                Ok(Page {
                    items: r.tools,
                    next_cursor: r.next_cursor,
                    ttl_ms: r.ttl_ms,
                })
            }),
        )
        .await?;
        hints.push(list.ttl_ms);
        catalog.tools = list.items;
    }
    if caps.prompts.is_some() {
        let list = request(
            handle,
            "prompts/list",
            list_all(|p| async move {
                let r = peer.list_prompts(p).await?;
                Ok(Page {
                    items: r.prompts,
                    next_cursor: r.next_cursor,
                    ttl_ms: r.ttl_ms,
                })
            }),
        )
        .await?;
        hints.push(list.ttl_ms);
        catalog.prompts = list.items;
    }
    if caps.resources.is_some() {
        let list = request(
            handle,
            "resources/list",
            list_all(|p| async move {
                let r = peer.list_resources(p).await?;
                Ok(Page {
                    items: r.resources,
                    next_cursor: r.next_cursor,
                    ttl_ms: r.ttl_ms,
                })
            }),
        )
        .await?;
        hints.push(list.ttl_ms);
        catalog.resources = list.items;
        // Templates are optional even for servers with resources: an error here is not fatal.
        if let Ok(list) = request(
            handle,
            "resources/templates/list",
            list_all(|p| async move {
                let r = peer.list_resource_templates(p).await?;
                Ok(Page {
                    items: r.resource_templates,
                    next_cursor: r.next_cursor,
                    ttl_ms: r.ttl_ms,
                })
            }),
        )
        .await
        {
            hints.push(list.ttl_ms);
            catalog.templates = list.items;
        }
    }
    Ok(Synced {
        catalog,
        ttl_ms: merge_hints(hints),
    })
}

/// Awaits one upstream request within the target's timeout, naming it in the error.
pub async fn request<T>(
    handle: &UpstreamHandle,
    what: &str,
    fut: impl Future<Output = Result<T, ServiceError>>,
) -> Result<T, UpstreamError> {
    match tokio::time::timeout(handle.timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(UpstreamError::Request {
            target: handle.target.clone(),
            what: what.into(),
            message: super::errors::describe(&e),
        }),
        Err(_) => Err(UpstreamError::Timeout {
            target: handle.target.clone(),
            what: what.into(),
            timeout_ms: handle.timeout.as_millis() as u64,
        }),
    }
}
