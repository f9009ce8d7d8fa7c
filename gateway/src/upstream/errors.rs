//! Plain-language texts for failures of requests to an upstream. rmcp's own texts name Rust
//! types ("Transport [rmcp::transport::worker::WorkerTransport<…>] error: …"), which tell a
//! caller nothing; these say what failed in words and keep the underlying reason (an HTTP
//! status, "connection refused") where there is one.

use rmcp::service::ServiceError;

/// What went wrong with a request, without Rust type names.
pub fn describe(error: &ServiceError) -> String {
    match error {
        ServiceError::McpError(e) => format!(
            "the upstream answered with JSON-RPC error {}: {}",
            e.code.0, e.message
        ),
        ServiceError::TransportSend(e) => format!(
            "the request could not be delivered to the upstream: {}",
            plain(&reason_chain(e.error.as_ref()))
        ),
        ServiceError::TransportClosed => {
            "the connection to the upstream closed before it answered (the upstream stopped, restarted or dropped the session)".into()
        }
        ServiceError::Timeout { timeout } => {
            format!("no answer within {} ms", timeout.as_millis())
        }
        ServiceError::Cancelled { reason } => format!(
            "the request was cancelled ({})",
            reason.as_deref().unwrap_or("no reason given")
        ),
        other => plain(&other.to_string()),
    }
}

/// An error and its sources, joined with ": " (skipping a source its parent already quotes).
fn reason_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = s.source();
    }
    text
}

/// Removes rmcp's "Transport [<type name>] error: " wrappers from a text.
pub fn plain(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find("Transport [") {
        let Some(close) = out[start..].find("] error: ") else {
            break;
        };
        out.replace_range(start..start + close + "] error: ".len(), "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_are_removed() {
        let rmcp_text = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::transport::streamable_http_client::StreamableHttpClientWorker<reqwest::async_impl::client::Client>>] error: Client error: error sending request, when send initialize request";
        let text = plain(rmcp_text);
        assert!(!text.contains("rmcp::"), "{text}");
        assert!(text.contains("error sending request"), "{text}");
    }

    #[test]
    fn a_closed_transport_is_said_in_words() {
        let text = describe(&ServiceError::TransportClosed);
        assert!(text.contains("connection to the upstream closed"), "{text}");
    }
}
