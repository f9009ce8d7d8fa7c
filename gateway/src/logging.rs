//! Per-target call logs (`GatewayTarget.spec.logging`): what is logged about each backend call,
//! with every credential redacted.
//!
//! Records (tracing target `toolyard::calls`):
//! - `backend request` (method, host, path, query; headers and body when asked) and
//!   `backend response` (status, duration; headers and body when asked), at INFO, for every call
//!   when the target's level is `Debug` or it includes headers or bodies;
//! - `backend call failed` at WARN for a response with status ≥ 400 otherwise, unless the level
//!   is `Error`.
//!
//! Redaction: the values of credential headers (Authorization, Cookie, X-Api-Key, the AWS
//! signature headers, the target's API key header) and query parameters (the target's API key
//! parameter, presigned-URL signatures, access tokens), and any occurrence of a known secret value
//! (every value of the gateway's credentials Secret) anywhere in headers, URL or bodies.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use toolyard_crds::config::TargetConfig;
use toolyard_crds::gateway::LogLevel;

use crate::outbound::credentials::ResolvedCredentials;
use toolyard_compile::manifests::SecretValues;

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// Bodies are logged up to this many bytes (the rest is counted, not logged).
pub const MAX_LOGGED_BODY: usize = 16 * 1024;

/// Headers whose values are never logged (lower case).
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-credential",
];

/// Query parameters whose values are never logged (lower case).
const SECRET_PARAMS: &[&str] = &[
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "access_token",
    "api_key",
    "apikey",
];

/// Secrets shorter than this are only redacted where they are a whole header or parameter
/// value: replacing a two-letter string everywhere would garble the logs without hiding
/// anything useful.
const MIN_SECRET_LEN: usize = 4;

/// One target's call-logging settings and what to redact.
#[derive(Clone, Debug, Default)]
pub struct CallLog {
    target: String,
    level: LogLevel,
    include_headers: bool,
    include_body: bool,
    /// Lower-case header names whose values are redacted.
    secret_headers: Vec<String>,
    /// Lower-case query parameter names whose values are redacted.
    secret_params: Vec<String>,
    /// Known secret values, longest first (so a secret that contains another goes first).
    secrets: Vec<String>,
}

/// Carried in a backend response's extensions from the send to the body read, so the response
/// record has the duration and the client span ends when the body is read.
#[derive(Clone, Debug)]
pub struct CallStart {
    /// The tool called.
    pub tool: String,
    /// When the request was sent.
    pub started: Instant,
    /// The client span of the call.
    pub span: tracing::Span,
}

impl CallLog {
    /// The settings of `target`; `credentials` and `secrets` name what to redact.
    pub fn new(
        target: &TargetConfig,
        credentials: Option<&ResolvedCredentials>,
        secrets: &SecretValues,
    ) -> Self {
        let mut secret_headers: Vec<String> =
            SECRET_HEADERS.iter().map(|h| h.to_string()).collect();
        let mut secret_params: Vec<String> = SECRET_PARAMS.iter().map(|p| p.to_string()).collect();
        let mut values: Vec<String> = secrets.values().map(|v| v.0.clone()).collect();
        if let Some(ResolvedCredentials::ApiKey {
            in_header,
            name,
            value,
        }) = credentials
        {
            if *in_header {
                secret_headers.push(name.to_ascii_lowercase());
            } else {
                secret_params.push(name.to_ascii_lowercase());
            }
            values.push(value.0.clone());
        }
        // A secret sent in a query or path shows up URL-encoded (in the echo of a backend, in a
        // logged URL): those spellings are the secret too.
        let encoded: Vec<String> = values.iter().flat_map(|v| url_encodings(v)).collect();
        values.extend(encoded);
        values.retain(|v| v.len() >= MIN_SECRET_LEN);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self {
            target: target.name.clone(),
            level: target.logging.level,
            include_headers: target.logging.include_headers,
            include_body: target.logging.include_body,
            secret_headers,
            secret_params,
            secrets: values,
        }
    }

    /// Whether every call is logged (request and response records).
    fn every_call(&self) -> bool {
        self.level == LogLevel::Debug || self.include_headers || self.include_body
    }

    /// `text` with every known secret value replaced.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// The headers as a JSON object (repeated names joined with `, `), credential values
    /// redacted.
    pub fn redact_headers(&self, headers: &http::HeaderMap) -> String {
        let mut out = Map::new();
        for name in headers.keys() {
            let key = name.as_str();
            let value = if self.secret_headers.iter().any(|h| h == key) {
                REDACTED.to_string()
            } else {
                let joined = headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.redact_text(&joined)
            };
            out.insert(key.to_string(), Value::String(value));
        }
        Value::Object(out).to_string()
    }

    /// The query string with credential parameters and secret values redacted (empty when none).
    pub fn redact_query(&self, url: &reqwest::Url) -> String {
        if url.query().is_none() {
            return String::new();
        }
        let mut redacted = url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = self
                    .secret_params
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&k));
                let v = if secret {
                    REDACTED.to_string()
                } else {
                    self.redact_text(&v)
                };
                (k.into_owned(), v)
            })
            .collect();
        redacted.query_pairs_mut().clear().extend_pairs(pairs);
        redacted
            .query()
            .unwrap_or_default()
            .replace("%5BREDACTED%5D", REDACTED)
    }

    /// A body for the log: UTF-8 (lossy), at most [`MAX_LOGGED_BODY`] bytes, secrets redacted.
    pub fn redact_body(&self, body: &[u8]) -> String {
        let shown = &body[..body.len().min(MAX_LOGGED_BODY)];
        let mut text = self.redact_text(&String::from_utf8_lossy(shown));
        if body.len() > shown.len() {
            text.push_str(&format!("… ({} more bytes)", body.len() - shown.len()));
        }
        text
    }

    /// Logs a request about to be sent (when every call is logged).
    pub fn request(&self, tool: &str, request: &reqwest::Request) {
        if !self.every_call() {
            return;
        }
        let url = request.url();
        let headers = self
            .include_headers
            .then(|| self.redact_headers(request.headers()));
        let body = self.include_body.then(|| match request.body() {
            None => String::new(),
            Some(b) => match b.as_bytes() {
                Some(bytes) => self.redact_body(bytes),
                None => "(streamed body, not logged)".to_string(),
            },
        });
        tracing::info!(
            target: "toolyard::calls",
            target_name = %self.target,
            tool = %tool,
            method = %request.method(),
            host = url.host_str().unwrap_or_default(),
            path = %self.redact_text(url.path()),
            query = %self.redact_query(url),
            request_headers = headers,
            request_body = body,
            "backend request"
        );
    }

    /// Whether [`CallLog::response`] logs a response with `status` (when not, its headers are
    /// not even copied).
    pub fn wants_response(&self, status: u16) -> bool {
        self.every_call() || (status >= 400 && self.level != LogLevel::Error)
    }

    /// Logs a response whose body was read (or could not be: `body` is `None`).
    pub fn response(
        &self,
        start: Option<&CallStart>,
        status: u16,
        headers: &http::HeaderMap,
        body: Option<&[u8]>,
    ) {
        if !self.wants_response(status) {
            return;
        }
        let tool = start.map(|s| s.tool.as_str()).unwrap_or_default();
        let duration_ms = start
            .map(|s| s.started.elapsed())
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
            * 1000.0;
        let headers = self.include_headers.then(|| self.redact_headers(headers));
        let body = self.include_body.then(|| match body {
            Some(b) => self.redact_body(b),
            None => "(not read)".to_string(),
        });
        if self.every_call() {
            tracing::info!(
                target: "toolyard::calls",
                target_name = %self.target,
                tool = %tool,
                status,
                duration_ms,
                response_headers = headers,
                response_body = body,
                "backend response"
            );
        } else {
            tracing::warn!(
                target: "toolyard::calls",
                target_name = %self.target,
                tool = %tool,
                status,
                duration_ms,
                "backend call failed"
            );
        }
    }
}

/// The URL-encoded spellings of `value` that differ from it: form encoding (`+` for spaces, as
/// query strings are built) and percent encoding (`%20`).
fn url_encodings(value: &str) -> Vec<String> {
    let mut form = String::new();
    let mut percent = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                form.push(char::from(b));
                percent.push(char::from(b));
            }
            b' ' => {
                form.push('+');
                percent.push_str("%20");
            }
            _ => {
                form.push_str(&format!("%{b:02X}"));
                percent.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out: Vec<String> = [form, percent].into_iter().filter(|e| e != value).collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolyard_compile::manifests::SecretValue;
    use toolyard_crds::config::Endpoint;
    use toolyard_crds::target::TargetKind;
    use toolyard_crds::target::TargetLogging;

    fn target(logging: TargetLogging) -> TargetConfig {
        serde_json::from_value(serde_json::json!({
            "name": "weather", "prefix": "weather", "kind": "OpenApi", "timeoutMs": 1000,
            "endpoint": {"http": {"baseUrl": "http://api.example.com"}}, "tools": [],
        }))
        .map(|mut t: TargetConfig| {
            t.logging = logging;
            t
        })
        .unwrap()
    }

    fn log(in_header: bool) -> CallLog {
        let secrets = SecretValues::from([
            (
                ("creds".to_string(), "client-secret".to_string()),
                SecretValue("s3cr3t-client".to_string()),
            ),
            (
                ("creds".to_string(), "short".to_string()),
                SecretValue("ab".to_string()),
            ),
        ]);
        let credentials = ResolvedCredentials::ApiKey {
            in_header,
            name: if in_header { "X-Weather-Key" } else { "appid" }.to_string(),
            value: SecretValue("Key k-123456".to_string()),
        };
        let t = target(TargetLogging {
            level: LogLevel::Info,
            include_headers: true,
            include_body: true,
        });
        assert!(matches!(t.kind, TargetKind::OpenApi));
        assert!(matches!(t.endpoint, Endpoint::Http { .. }));
        CallLog::new(&t, Some(&credentials), &secrets)
    }

    #[test]
    fn credential_headers_are_redacted_and_the_rest_kept() {
        let log = log(true);
        let mut headers = http::HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer eyJtoken"),
            ("cookie", "session=abc"),
            ("x-api-key", "k1"),
            ("x-weather-key", "Key k-123456"),
            ("x-amz-security-token", "FwoGZXIvYXdzE"),
            ("x-echo", "prefix s3cr3t-client suffix"),
            ("content-type", "application/json"),
        ] {
            headers.insert(
                http::HeaderName::from_static(k),
                http::HeaderValue::from_static(v),
            );
        }
        let text = log.redact_headers(&headers);
        for secret in [
            "eyJtoken",
            "session=abc",
            "k1\"",
            "k-123456",
            "FwoGZXIvYXdzE",
            "s3cr3t-client",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let parsed: Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["authorization"], REDACTED);
        assert_eq!(parsed["x-weather-key"], REDACTED);
        assert_eq!(parsed["x-echo"], "prefix [REDACTED] suffix");
        assert_eq!(parsed["content-type"], "application/json");
    }

    #[test]
    fn query_keys_and_secret_values_are_redacted() {
        let log = log(false);
        let url = reqwest::Url::parse(
            "http://api.example.com/w?q=Seoul&appid=Key%20k-123456&X-Amz-Signature=abcd&note=s3cr3t-client",
        )
        .unwrap();
        let q = log.redact_query(&url);
        assert!(!q.contains("k-123456") && !q.contains("abcd") && !q.contains("s3cr3t"));
        assert!(q.contains("q=Seoul"), "{q}");
        assert!(q.contains("appid=[REDACTED]"), "{q}");
        let plain = reqwest::Url::parse("http://api.example.com/w").unwrap();
        assert_eq!(log.redact_query(&plain), "");
    }

    #[test]
    fn bodies_lose_secrets_and_are_bounded() {
        let log = log(true);
        let body = br#"{"password":"s3cr3t-client","key":"Key k-123456","city":"Seoul"}"#;
        let text = log.redact_body(body);
        assert!(!text.contains("s3cr3t-client") && !text.contains("k-123456"));
        assert!(text.contains("Seoul"));
        let big = vec![b'a'; MAX_LOGGED_BODY + 10];
        let text = log.redact_body(&big);
        assert!(text.ends_with("(10 more bytes)"));
        // A two-letter secret is not replaced inside other words.
        assert_eq!(log.redact_text("about"), "about");
    }

    #[test]
    fn url_encoded_secrets_are_redacted_too() {
        let secrets = SecretValues::from([(
            ("s".into(), "q".into()),
            SecretValue("query secret&456".to_string()),
        )]);
        let log = CallLog::new(&target(TargetLogging::default()), None, &secrets);
        assert_eq!(
            log.redact_text("raw=query+secret%26456 path=/x/query%20secret%26456"),
            "raw=[REDACTED] path=/x/[REDACTED]"
        );
        assert_eq!(url_encodings("plain-key"), Vec::<String>::new());
    }

    #[test]
    fn longer_secrets_are_redacted_first() {
        let secrets = SecretValues::from([
            (("s".into(), "a".into()), SecretValue("abcd".to_string())),
            (
                ("s".into(), "b".into()),
                SecretValue("abcdefgh".to_string()),
            ),
        ]);
        let log = CallLog::new(&target(TargetLogging::default()), None, &secrets);
        assert_eq!(log.redact_text("x abcdefgh y"), "x [REDACTED] y");
    }

    #[test]
    fn which_calls_are_logged() {
        let quiet = CallLog::new(
            &target(TargetLogging::default()),
            None,
            &SecretValues::new(),
        );
        assert!(!quiet.every_call());
        let debug = CallLog::new(
            &target(TargetLogging {
                level: LogLevel::Debug,
                ..TargetLogging::default()
            }),
            None,
            &SecretValues::new(),
        );
        assert!(debug.every_call());
    }
}
