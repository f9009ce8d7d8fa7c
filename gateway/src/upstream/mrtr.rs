//! MRTR translation (SEP-2322, MCP 2026-07-28) for upstreams of older revisions.
//!
//! A 2025-11-25 upstream asks for client input *during* a call: it sends `elicitation/create`,
//! `sampling/createMessage` or `roots/list` to the gateway and waits. A 2026-07-28 caller is
//! stateless: it cannot be asked mid-call, it expects an `InputRequiredResult` and then sends the
//! same request again with `inputResponses` (and the `requestState` it was given).
//!
//! The gateway bridges the two by **replay**: it runs the upstream call; when the upstream asks
//! something the caller has not answered yet, the gateway collects the questions asked within
//! [`SETTLE`] (an upstream may ask several at once), answers the upstream with an error, cancels
//! the upstream call and returns an `InputRequiredResult`. When the caller comes back with the
//! answers, the gateway runs the call again and answers the upstream's questions from them —
//! matched by key — until the call completes or asks something new (another round).
//!
//! Keys are the upstream's choice when it puts one in the request's `_meta` under
//! [`INPUT_KEY_META`], else `<kind>-<n>` (the n-th question of that kind in the call), which is
//! stable as long as the upstream asks in the same order on every run. Replay assumes the tool
//! does nothing irreversible before its questions are answered (the usual shape of a tool that
//! asks first); that is the price of needing no per-call state on the gateway.
//!
//! `requestState` carries the answers of earlier rounds, bound to the request (method, name,
//! arguments) and sealed with HMAC-SHA256, so a changed or foreign state is refused with
//! -32602. The key comes from `TOOLYARD_REQUEST_STATE_KEY`, else it is derived from the gateway's
//! session key (shared by every replica of a Gateway, so any replica can continue a call), else a
//! random per-process key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rmcp::ErrorData;
use rmcp::model::{
    ClientCapabilities, ErrorCode, InputRequest, InputRequests, InputRequiredResult, InputResponses,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

/// The `_meta` key an upstream may set on its request to name the input request.
pub const INPUT_KEY_META: &str = "dev.toolyard/inputKey";
/// How long, after the first unanswered question, the gateway waits for more.
pub const SETTLE: Duration = Duration::from_millis(150);
/// How long a `requestState` stays valid.
const STATE_TTL: Duration = Duration::from_secs(3600);
/// Most answers a request (state plus `inputResponses`) may carry.
const MAX_ANSWERS: usize = 64;
/// Largest `requestState` accepted.
const MAX_STATE_BYTES: usize = 512 * 1024;
/// Prefix of sealed states (version 1).
const STATE_PREFIX: &str = "tys1";
/// Environment variable with the HMAC key shared by the replicas.
pub const KEY_ENV: &str = "TOOLYARD_REQUEST_STATE_KEY";

/// Why a continuation was refused. Every message says what the caller should do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MrtrError {
    /// Signature, encoding or layout wrong.
    #[error(
        "requestState failed verification (it was changed, is malformed, or was issued by a gateway with another key); send the request again without requestState and inputResponses"
    )]
    Tampered,
    /// Past its lifetime.
    #[error(
        "requestState has expired; send the request again without requestState and inputResponses"
    )]
    Expired,
    /// Issued for another method, name or arguments.
    #[error(
        "requestState was issued for a different request (method, name or arguments changed); send this request without requestState"
    )]
    OtherRequest,
    /// Too many answers, or a state too large.
    #[error(
        "too many inputResponses (at most {MAX_ANSWERS}, and requestState at most {MAX_STATE_BYTES} bytes)"
    )]
    TooLarge,
    /// An answer that is not the result the question needs.
    #[error("inputResponses.{key} is not a valid {kind} result: {message}")]
    InvalidResponse {
        /// The key.
        key: String,
        /// `elicitation`, `sampling` or `roots`.
        kind: &'static str,
        /// What did not parse.
        message: String,
    },
}

impl MrtrError {
    /// The JSON-RPC error for the caller (-32602, invalid params).
    pub fn to_rpc(&self) -> ErrorData {
        ErrorData::invalid_params(self.to_string(), None)
    }
}

/// Which of the three client features the caller declared in this request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallerFeatures {
    /// `elicitation`.
    pub elicitation: bool,
    /// `sampling`.
    pub sampling: bool,
    /// `roots`.
    pub roots: bool,
}

impl CallerFeatures {
    /// From the request's declared capabilities.
    pub fn of(caps: Option<&ClientCapabilities>) -> Self {
        caps.map_or_else(Self::default, |c| Self {
            elicitation: c.elicitation.is_some(),
            sampling: c.sampling.is_some(),
            roots: c.roots.is_some(),
        })
    }
}

/// The kind of an upstream question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `elicitation/create`.
    Elicitation,
    /// `sampling/createMessage`.
    Sampling,
    /// `roots/list`.
    Roots,
}

impl Kind {
    /// The word used in keys and messages.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Elicitation => "elicitation",
            Kind::Sampling => "sampling",
            Kind::Roots => "roots",
        }
    }
}

/// One run of an upstream call for a 2026-07-28 caller: the answers it brought, the questions
/// the upstream asked that it did not answer yet.
#[derive(Debug)]
pub struct Round {
    features: CallerFeatures,
    binding: String,
    answers: BTreeMap<String, Value>,
    counters: Mutex<HashMap<Kind, usize>>,
    pending: Mutex<InputRequests>,
    invalid: Mutex<Option<MrtrError>>,
    asked: Notify,
    ended: watch::Sender<bool>,
    interrupted: std::sync::atomic::AtomicBool,
    refused: Mutex<Vec<Kind>>,
}

impl Round {
    /// A round of request `method` `name` with `arguments`: opens `request_state` (if any) and
    /// merges its answers with `input_responses` (newer answers win).
    pub fn open(
        features: CallerFeatures,
        method: &str,
        name: &str,
        arguments: Option<&Map<String, Value>>,
        input_responses: Option<&InputResponses>,
        request_state: Option<&str>,
    ) -> Result<Self, MrtrError> {
        let binding = binding(method, name, arguments);
        let mut answers = match request_state {
            Some(state) => open_state(key(), state, &binding, now_secs())?,
            None => BTreeMap::new(),
        };
        for (k, v) in input_responses.into_iter().flatten() {
            answers.insert(k.clone(), v.clone());
        }
        if answers.len() > MAX_ANSWERS {
            return Err(MrtrError::TooLarge);
        }
        Ok(Self {
            features,
            binding,
            answers,
            counters: Mutex::default(),
            pending: Mutex::default(),
            invalid: Mutex::default(),
            asked: Notify::new(),
            ended: watch::Sender::new(false),
            interrupted: std::sync::atomic::AtomicBool::new(false),
            refused: Mutex::default(),
        })
    }

    /// An upstream question: the caller's answer when it has one; otherwise the question is
    /// recorded for the `InputRequiredResult` and this waits until the round ends, then fails
    /// (the upstream call is abandoned and repeated with the answer).
    ///
    /// `hint` is the key the upstream named in the request's `_meta` ([`INPUT_KEY_META`]).
    pub async fn ask(
        &self,
        kind: Kind,
        request: InputRequest,
        hint: Option<&str>,
    ) -> Result<Value, ErrorData> {
        self.ask_keyed(kind, request, hint).await.map(|(_, v)| v)
    }

    async fn ask_keyed(
        &self,
        kind: Kind,
        request: InputRequest,
        hint: Option<&str>,
    ) -> Result<(String, Value), ErrorData> {
        let allowed = match kind {
            Kind::Elicitation => self.features.elicitation,
            Kind::Sampling => self.features.sampling,
            Kind::Roots => self.features.roots,
        };
        if !allowed {
            if let Ok(mut refused) = self.refused.lock()
                && !refused.contains(&kind)
            {
                refused.push(kind);
            }
            return Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "the gateway's caller did not declare the {} capability, so it cannot be asked",
                    kind.word()
                ),
                None,
            ));
        }
        let key = self.key_for(kind, hint);
        if let Some(answer) = self.answers.get(&key) {
            return Ok((key, answer.clone()));
        }
        let mut ended = self.ended.subscribe();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(key, request);
        }
        self.asked.notify_one();
        let _ = ended.wait_for(|e| *e).await;
        Err(ErrorData::internal_error(
            "the gateway passed this question to its caller (MRTR); the call is repeated with the answer",
            None,
        ))
    }

    /// [`Round::ask`], the answer parsed as the result the question needs. An answer that does
    /// not parse fails the upstream question and, through [`Round::invalid`], the call (-32602).
    pub async fn ask_as<T: serde::de::DeserializeOwned>(
        &self,
        kind: Kind,
        request: InputRequest,
        hint: Option<&str>,
    ) -> Result<T, ErrorData> {
        let (key, answer) = self.ask_keyed(kind, request, hint).await?;
        serde_json::from_value(answer).map_err(|e| {
            self.reject(&key, kind, e.to_string());
            ErrorData::invalid_params(
                format!(
                    "the caller's answer {key} is not a valid {} result",
                    kind.word()
                ),
                None,
            )
        })
    }

    /// Records an answer that does not parse as what the question needs: the call then fails
    /// with -32602 instead of completing.
    pub fn reject(&self, key: &str, kind: Kind, message: String) {
        if let Ok(mut invalid) = self.invalid.lock() {
            invalid.get_or_insert(MrtrError::InvalidResponse {
                key: key.to_string(),
                kind: kind.word(),
                message,
            });
        }
    }

    /// The key of a question: the upstream's `_meta` hint, else `<kind>-<n>`.
    pub fn key_for(&self, kind: Kind, hint: Option<&str>) -> String {
        if let Some(hint) = hint.filter(|h| !h.is_empty() && h.len() <= 128) {
            return hint.to_string();
        }
        let n = self
            .counters
            .lock()
            .map(|mut c| {
                let n = c.entry(kind).or_insert(0);
                *n += 1;
                *n
            })
            .unwrap_or(1);
        format!("{}-{n}", kind.word())
    }

    /// Runs `call` until it finishes (`Some`) or the upstream asked something unanswered
    /// (`None`, after [`SETTLE`] for further questions; then the round is over).
    pub async fn drive<T>(&self, call: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(call);
        tokio::select! {
            r = &mut call => return Some(r),
            _ = self.asked.notified() => {}
        }
        // More questions asked concurrently arrive within the settle time.
        let _ = tokio::time::timeout(SETTLE, &mut call).await;
        self.interrupted
            .store(true, std::sync::atomic::Ordering::Release);
        self.end();
        None
    }

    /// Whether [`Round::drive`] stopped the call for input.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Ends the round: waiting questions fail towards the upstream.
    pub fn end(&self) {
        self.ended.send_replace(true);
    }

    /// For a call that failed after the upstream asked for a feature the caller did not
    /// declare: the error that says so (-32021 with `requiredCapabilities`, HTTP 400), instead
    /// of the upstream's own failure. A call that coped with the refusal is left alone.
    pub fn missing_capability(&self) -> Option<ErrorData> {
        let refused = self.refused.lock().ok()?.clone();
        if refused.is_empty() {
            return None;
        }
        let mut required = Map::new();
        for kind in &refused {
            required.insert(kind.word().to_string(), Value::Object(Map::new()));
        }
        let words: Vec<&str> = refused.iter().map(|k| k.word()).collect();
        Some(ErrorData::new(
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!(
                "the upstream tool needs the client capability {} which this request did not declare in io.modelcontextprotocol/clientCapabilities; declare it and call again",
                words.join(" and ")
            ),
            Some(serde_json::json!({ "requiredCapabilities": Value::Object(required) })),
        ))
    }

    /// The invalid answer, if one was seen.
    pub fn invalid(&self) -> Option<MrtrError> {
        self.invalid.lock().ok().and_then(|mut i| i.take())
    }

    /// The result for the caller: the unanswered questions and the sealed answers so far.
    pub fn input_required(&self) -> InputRequiredResult {
        let requests = self.pending.lock().map(|p| p.clone()).unwrap_or_default();
        let state = seal_state(key(), &self.binding, &self.answers, now_secs());
        InputRequiredResult::new(Some(requests), Some(state))
    }
}

/// A 2026-07-28 caller of a 2026-07-28 upstream: nothing to translate. The caller's answers
/// and state go upstream unchanged; the upstream's `InputRequiredResult` comes back unchanged
/// (its `requestState` is the upstream's to verify).
#[derive(Debug, Default)]
pub struct Passthrough {
    /// The caller's `inputResponses`.
    pub input_responses: Option<InputResponses>,
    /// The caller's `requestState`.
    pub request_state: Option<String>,
    result: Mutex<Option<InputRequiredResult>>,
}

impl Passthrough {
    /// The caller's continuation fields.
    pub fn new(input_responses: Option<InputResponses>, request_state: Option<String>) -> Self {
        Self {
            input_responses,
            request_state,
            result: Mutex::default(),
        }
    }

    /// Records the upstream's InputRequiredResult.
    pub fn set(&self, result: InputRequiredResult) {
        if let Ok(mut r) = self.result.lock() {
            *r = Some(result);
        }
    }

    /// The upstream's InputRequiredResult, if it sent one.
    pub fn take(&self) -> Option<InputRequiredResult> {
        self.result.lock().ok().and_then(|mut r| r.take())
    }
}

/// Canonical JSON (object keys sorted at every level), so the binding does not depend on the
/// order a client writes arguments in.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// What a state is bound to: a digest of method, name and canonical arguments.
fn binding(method: &str, name: &str, arguments: Option<&Map<String, Value>>) -> String {
    let args = arguments.map_or(Value::Null, |a| canonical(&Value::Object(a.clone())));
    let mut h = Sha256::new();
    for part in [method, name, &args.to_string()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

static KEY: OnceLock<ring::hmac::Key> = OnceLock::new();

/// Seals `requestState` with `shared` (the gateway passes a key derived from its session key,
/// which every replica of a Gateway shares, so any replica continues a call) unless
/// `TOOLYARD_REQUEST_STATE_KEY` is set. Call once at start, before the first call.
pub fn use_shared_key(shared: &[u8]) {
    if std::env::var(KEY_ENV).is_ok_and(|v| !v.is_empty()) {
        return;
    }
    let _ = KEY.set(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, shared));
}

/// The process's HMAC key: `TOOLYARD_REQUEST_STATE_KEY`, the one [`use_shared_key`] set, or 32
/// random bytes.
fn key() -> &'static ring::hmac::Key {
    KEY.get_or_init(|| {
        let secret = match std::env::var(KEY_ENV) {
            Ok(v) if !v.is_empty() => v.into_bytes(),
            _ => {
                let mut bytes = [0u8; 32];
                let rng = ring::rand::SystemRandom::new();
                if ring::rand::SecureRandom::fill(&rng, &mut bytes).is_err() {
                    // No system randomness: a per-process value still keeps other processes'
                    // states out; never a fixed key.
                    let fallback = format!("{:?}{}", SystemTime::now(), std::process::id());
                    bytes.copy_from_slice(&Sha256::digest(fallback.as_bytes()));
                }
                bytes.to_vec()
            }
        };
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret)
    })
}

/// `tys1.<payload>.<tag>` (base64url): payload = `{"b": binding, "e": expiry, "r": answers}`.
fn seal_state(
    key: &ring::hmac::Key,
    binding: &str,
    answers: &BTreeMap<String, Value>,
    now: u64,
) -> String {
    let payload = serde_json::json!({
        "b": binding,
        "e": now + STATE_TTL.as_secs(),
        "r": answers,
    });
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signed = format!("{STATE_PREFIX}.{body}");
    let tag = ring::hmac::sign(key, signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Verifies a state and returns its answers.
fn open_state(
    key: &ring::hmac::Key,
    state: &str,
    binding: &str,
    now: u64,
) -> Result<BTreeMap<String, Value>, MrtrError> {
    if state.len() > MAX_STATE_BYTES {
        return Err(MrtrError::TooLarge);
    }
    let (signed, tag) = state.rsplit_once('.').ok_or(MrtrError::Tampered)?;
    let (prefix, body) = signed.split_once('.').ok_or(MrtrError::Tampered)?;
    if prefix != STATE_PREFIX {
        return Err(MrtrError::Tampered);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| MrtrError::Tampered)?;
    ring::hmac::verify(key, signed.as_bytes(), &tag).map_err(|_| MrtrError::Tampered)?;
    let payload: Value = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(MrtrError::Tampered)?;
    if payload["b"].as_str() != Some(binding) {
        return Err(MrtrError::OtherRequest);
    }
    if payload["e"].as_u64().is_none_or(|e| e < now) {
        return Err(MrtrError::Expired);
    }
    let answers = payload["r"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(answers)
}

#[cfg(test)]
#[allow(deprecated)] // roots/list (SEP-2577 deprecates it; 2025 upstreams still ask for it)
mod tests {
    use super::*;
    use rmcp::model::{ElicitRequest, ListRootsRequest};

    fn test_key() -> ring::hmac::Key {
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef")
    }

    fn answers() -> BTreeMap<String, Value> {
        BTreeMap::from([(
            "user_name".to_string(),
            serde_json::json!({"action": "accept"}),
        )])
    }

    #[test]
    fn sealed_states_open_only_unchanged_for_the_same_request() {
        let k = test_key();
        let state = seal_state(&k, "bind", &answers(), 1_000);
        assert_eq!(open_state(&k, &state, "bind", 1_000), Ok(answers()));
        assert_eq!(
            open_state(&k, &format!("{state}-TAMPERED"), "bind", 1_000),
            Err(MrtrError::Tampered)
        );
        assert_eq!(
            open_state(&k, &state, "other", 1_000),
            Err(MrtrError::OtherRequest)
        );
        assert_eq!(
            open_state(&k, &state, "bind", 1_000 + STATE_TTL.as_secs() + 1),
            Err(MrtrError::Expired)
        );
        let other_key =
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"another key of 32 bytes.........");
        assert_eq!(
            open_state(&other_key, &state, "bind", 1_000),
            Err(MrtrError::Tampered)
        );
        // A payload swapped in under the old tag.
        let (prefix_body, tag) = state.rsplit_once('.').unwrap_or_default();
        let forged_body = URL_SAFE_NO_PAD.encode(r#"{"b":"bind","e":99999999999,"r":{"x":1}}"#);
        let forged = format!("{STATE_PREFIX}.{forged_body}.{tag}");
        assert_ne!(prefix_body, format!("{STATE_PREFIX}.{forged_body}"));
        assert_eq!(
            open_state(&k, &forged, "bind", 1_000),
            Err(MrtrError::Tampered)
        );
        assert_eq!(
            open_state(&k, "garbage", "bind", 1_000),
            Err(MrtrError::Tampered)
        );
    }

    #[test]
    fn bindings_ignore_argument_order_but_not_values() {
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"x": 1, "y": {"b": 2, "a": 1}}"#).unwrap_or_default();
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"y": {"a": 1, "b": 2}, "x": 1}"#).unwrap_or_default();
        let c: Map<String, Value> = serde_json::from_str(r#"{"x": 2}"#).unwrap_or_default();
        assert_eq!(
            binding("tools/call", "t", Some(&a)),
            binding("tools/call", "t", Some(&b))
        );
        assert_ne!(
            binding("tools/call", "t", Some(&a)),
            binding("tools/call", "t", Some(&c))
        );
        assert_ne!(
            binding("tools/call", "t", None),
            binding("prompts/get", "t", None)
        );
    }

    fn elicit() -> InputRequest {
        let params = serde_json::json!({
            "message": "What is your name?",
            "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
        });
        let request: ElicitRequest = serde_json::from_value(serde_json::json!({
            "method": "elicitation/create", "params": params
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        InputRequest::Elicitation(request)
    }

    fn all() -> CallerFeatures {
        CallerFeatures {
            elicitation: true,
            sampling: true,
            roots: true,
        }
    }

    #[tokio::test]
    async fn answered_questions_are_answered_and_new_ones_end_the_round() {
        let responses: InputResponses = BTreeMap::from([(
            "user_name".to_string(),
            serde_json::json!({"action": "accept"}),
        )]);
        let round = Round::open(all(), "tools/call", "t", None, Some(&responses), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let answered = round
            .ask(Kind::Elicitation, elicit(), Some("user_name"))
            .await;
        assert_eq!(answered.ok(), Some(serde_json::json!({"action": "accept"})));
        let outcome = round
            .drive(async {
                let _ = round
                    .ask(
                        Kind::Roots,
                        InputRequest::ListRoots(ListRootsRequest::default()),
                        None,
                    )
                    .await;
                "finished"
            })
            .await;
        assert_eq!(outcome, None, "an unanswered question ends the round");
        let result = serde_json::to_value(round.input_required()).unwrap_or_default();
        assert_eq!(result["resultType"], "input_required");
        assert_eq!(result["inputRequests"]["roots-1"]["method"], "roots/list");
        // The next round carries the earlier answer in its state.
        let state = result["requestState"].as_str().unwrap_or_default();
        let next = Round::open(all(), "tools/call", "t", None, None, Some(state))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(next.answers.contains_key("user_name"));
    }

    #[tokio::test]
    async fn undeclared_features_are_refused_at_once() {
        let round = Round::open(
            CallerFeatures {
                sampling: true,
                ..Default::default()
            },
            "tools/call",
            "t",
            None,
            None,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let refused = round.ask(Kind::Elicitation, elicit(), None).await;
        assert!(refused.is_err());
        assert!(round.pending.lock().map(|p| p.is_empty()).unwrap_or(false));
        let error = round
            .missing_capability()
            .unwrap_or_else(|| panic!("no error"));
        assert_eq!(error.code, ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
        assert_eq!(
            error.data,
            Some(serde_json::json!({"requiredCapabilities": {"elicitation": {}}}))
        );
    }

    #[test]
    fn keys_default_to_kind_and_count() {
        let round = Round::open(all(), "tools/call", "t", None, None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(round.key_for(Kind::Elicitation, None), "elicitation-1");
        assert_eq!(round.key_for(Kind::Elicitation, None), "elicitation-2");
        assert_eq!(round.key_for(Kind::Sampling, None), "sampling-1");
        assert_eq!(round.key_for(Kind::Elicitation, Some("step2")), "step2");
    }
}
