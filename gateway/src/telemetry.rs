//! Logs and OpenTelemetry traces.
//!
//! Logs: human text by default, JSON lines with `--log-format json`. Traces: exported over
//! OTLP/HTTP (protobuf) only when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` variable is set (and `OTEL_SDK_DISABLED` is not `true`);
//! otherwise no OpenTelemetry layer is installed and [`server_span`] / [`client_span`] return
//! disabled spans, so tracing costs nothing when it is off.
//!
//! Spans: one server span per MCP request (its parent is the caller's W3C `traceparent`, when
//! sent) and one client span per backend call, whose context goes to the backend as
//! `traceparent`. Span attributes never hold tokens, credentials or URL query strings.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithHttpConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Whether spans are exported (set once by [`init`]).
static TRACING: AtomicBool = AtomicBool::new(false);

/// The log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text (the default).
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (bad endpoint or headers).
    #[error(
        "the OTLP trace exporter could not be built ({0}); check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS"
    )]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("the log subscriber could not be installed: {0}")]
    Subscriber(String),
}

/// Flushes buffered spans when dropped (at process exit).
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("toolyard: could not flush the last spans: {e}");
        }
    }
}

/// Whether the environment turns OTLP tracing on.
pub fn otlp_configured(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// Installs the global log subscriber (with `filter`) and, when the environment configures OTLP,
/// the trace exporter. Call it before starting the async runtime (the exporter's blocking HTTP
/// client must not be built inside one). `service` is the default `service.name`
/// (`OTEL_SERVICE_NAME` overrides it).
pub fn init(format: LogFormat, filter: EnvFilter, service: &str) -> Result<Guard, TelemetryError> {
    let fmt = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    let env = |name: &str| std::env::var(name).ok();
    let provider = if otlp_configured(env) {
        Some(provider(service)?)
    } else {
        None
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("toolyard"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            // Only our spans: the server's spans from rmcp, hyper or reqwest would add noise.
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span() && meta.target().starts_with("toolyard")
            }))
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    if provider.is_some() {
        TRACING.store(true, Ordering::Relaxed);
        tracing::info!("OpenTelemetry tracing on (OTLP/HTTP)");
    }
    Ok(Guard { provider })
}

fn provider(service: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(OtlpHttpClient::new()?)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service.to_string());
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// The OTLP exporter's HTTP client: reqwest's blocking client (the batch processor exports from
/// its own thread, outside the async runtime), on the same reqwest major version as the rest of
/// the gateway. Plugged in through opentelemetry-http's `HttpClient` trait because
/// opentelemetry-otlp's built-in `reqwest-blocking-client` would build a second reqwest.
#[derive(Debug)]
struct OtlpHttpClient(reqwest::blocking::Client);

impl OtlpHttpClient {
    /// Default OTLP export timeout when neither timeout variable is set (the OTLP spec's 10 s).
    const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    /// A client with the OTLP export timeout (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds). Must be built outside the async runtime.
    fn new() -> Result<Self, TelemetryError> {
        let millis = |name: &str| std::env::var(name).ok()?.trim().parse::<u64>().ok();
        let timeout = millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| millis("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .map_or(Self::DEFAULT_TIMEOUT, std::time::Duration::from_millis);
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map(Self)
            .map_err(|e| TelemetryError::Exporter(e.to_string()))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttpClient {
    async fn send_bytes(
        &self,
        request: http::Request<opentelemetry_http::Bytes>,
    ) -> Result<http::Response<opentelemetry_http::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string())?;
        let mut outbound = reqwest::blocking::Request::new(parts.method, url);
        *outbound.headers_mut() = parts.headers;
        *outbound.body_mut() = Some(body.to_vec().into());
        let mut response = self.0.execute(outbound)?.error_for_status()?;
        let headers = std::mem::take(response.headers_mut());
        let mut out = http::Response::builder()
            .status(response.status())
            .body(response.bytes()?)?;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    TRACING.load(Ordering::Relaxed)
}

/// Reads W3C trace context from HTTP headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes W3C trace context into HTTP headers.
struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// What a server span records about one MCP request.
#[derive(Debug, Default)]
pub struct ServerRequest<'a> {
    /// The MCP method (`tools/call`, `tools/list`, ...).
    pub method: &'a str,
    /// The tool, prompt or resource the request is about.
    pub name: Option<&'a str>,
    /// The HTTP request's headers (for `traceparent`).
    pub headers: Option<&'a http::HeaderMap>,
    /// The authenticated caller's `sub` (never the token).
    pub subject: Option<&'a str>,
    /// The MCP session id.
    pub session: Option<&'a str>,
}

/// A server span for one MCP request, child of the caller's `traceparent` when it sent one.
/// Disabled (free) when tracing is off.
pub fn server_span(request: &ServerRequest<'_>) -> Span {
    if !enabled() {
        return Span::none();
    }
    let name = match request.name {
        Some(n) => format!("{} {n}", request.method),
        None => request.method.to_string(),
    };
    let span = tracing::info_span!(
        target: "toolyard::mcp",
        "mcp.request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        mcp.method.name = %request.method,
        gen_ai.tool.name = tracing::field::Empty,
        gen_ai.prompt.name = tracing::field::Empty,
        mcp.session.id = tracing::field::Empty,
        enduser.id = tracing::field::Empty,
        toolyard.target = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if let Some(name) = request.name {
        if request.method.starts_with("prompts/") {
            span.record("gen_ai.prompt.name", name);
        } else {
            span.record("gen_ai.tool.name", name);
        }
    }
    if let Some(session) = request.session {
        span.record("mcp.session.id", session);
    }
    if let Some(subject) = request.subject {
        span.record("enduser.id", subject);
    }
    if let Some(headers) = request.headers {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let _ = span.set_parent(parent);
    }
    span
}

/// The server span of an rmcp request: method, optional tool/prompt/resource name, the caller's
/// `traceparent`, session id and authenticated subject (from the HTTP request rmcp hands on).
pub fn request_span(
    method: &str,
    name: Option<&str>,
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
) -> Span {
    if !enabled() {
        return Span::none();
    }
    let parts = context.extensions.get::<http::request::Parts>();
    let principal = crate::auth::principal_of(&context.extensions);
    server_span(&ServerRequest {
        method,
        name,
        headers: parts.map(|p| &p.headers),
        subject: principal.as_ref().and_then(|p| p.subject.as_deref()),
        session: parts
            .and_then(|p| p.headers.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok()),
    })
}

/// Marks `span` as failed with the error kind (`user`, `backend`, `throttled`, ...).
pub fn record_error(span: &Span, kind: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("error.type", kind);
}

/// A client span for one backend HTTP call (method, host and port; never the path's query or
/// credentials). Disabled (free) when tracing is off.
pub fn client_span(method: &str, url: &reqwest::Url, target: &str, tool: &str) -> Span {
    if !enabled() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: "toolyard::backend",
        "backend.call",
        otel.name = %method,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        server.address = url.host_str().unwrap_or_default(),
        server.port = i64::from(url.port_or_known_default().unwrap_or_default()),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        toolyard.target = %target,
        gen_ai.tool.name = %tool,
    );
    span
}

/// Records a backend response's status on its client span (5xx and 4xx mark it failed).
pub fn record_status(span: &Span, status: u16) {
    // As an OTLP int (tracing-opentelemetry would send an unsigned value as a string).
    span.record("http.response.status_code", i64::from(status));
    if status >= 400 {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status.to_string());
    }
}

/// Adds `traceparent` (and `tracestate`) for `span` to a backend request. Nothing when tracing
/// is off.
pub fn inject(span: &Span, headers: &mut http::HeaderMap) {
    if !enabled() {
        return;
    }
    let cx = span.context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_is_off_unless_an_endpoint_is_set() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!otlp_configured(env(&[])));
        assert!(!otlp_configured(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            " "
        )])));
        assert!(otlp_configured(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318"
        )])));
        assert!(otlp_configured(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces"
        )])));
        assert!(!otlp_configured(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])));
        assert!(!otlp_configured(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])));
    }

    #[test]
    fn spans_are_free_when_tracing_is_off() {
        // No `init` in unit tests: the spans are disabled and nothing is injected.
        let url = reqwest::Url::parse("http://api.example.com/x?key=secret").unwrap();
        let span = client_span("GET", &url, "t", "tool");
        assert!(span.is_disabled());
        let mut headers = http::HeaderMap::new();
        inject(&span, &mut headers);
        assert!(headers.is_empty());
        assert!(server_span(&ServerRequest::default()).is_disabled());
    }

    #[test]
    fn extracts_and_injects_w3c_trace_context() {
        let mut incoming = http::HeaderMap::new();
        incoming.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&incoming));
        let mut outgoing = http::HeaderMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut outgoing));
        assert_eq!(
            outgoing.get("traceparent").and_then(|v| v.to_str().ok()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
    }
}
