//! Embeddings from an OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI, Azure OpenAI
//! compatible proxies, vLLM, Ollama, LiteLLM, text-embeddings-inference, ...).
//!
//! Request `{"model": ..., "input": [texts]}`, response `{"data": [{"index": i, "embedding":
//! [...]}]}`. The API key goes in `Authorization: Bearer`; it never appears in errors or logs.

use std::time::Duration;

use serde::Deserialize;

use super::{BoxFuture, EmbedError, Embedder};
use toolyard_compile::manifests::SecretValue;

/// Time limit of one embeddings request.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Longest error-body excerpt quoted in an error.
const BODY_EXCERPT: usize = 300;

/// An OpenAI-compatible embeddings client.
pub struct OpenAiEmbedder {
    url: String,
    model: String,
    api_key: Option<SecretValue>,
    id: String,
    /// For queries, on the server's runtime. Reloads use a client of their own (a pooled
    /// connection belongs to the runtime that opened it).
    client: reqwest::Client,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// `<base>/v1/embeddings`, or the URL itself when it already ends in `/embeddings`.
pub fn embeddings_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/embeddings") {
        base.to_string()
    } else {
        format!("{base}/v1/embeddings")
    }
}

fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl OpenAiEmbedder {
    /// A client for `url` (base URL) and `model`.
    pub fn new(url: &str, model: &str, api_key: Option<SecretValue>) -> Result<Self, EmbedError> {
        let url = embeddings_url(url);
        let client = client().map_err(|e| EmbedError::Endpoint {
            url: url.clone(),
            message: format!("could not build the HTTP client: {e}"),
        })?;
        Ok(Self {
            id: format!("openai:{url}#{model}"),
            url,
            model: model.to_string(),
            api_key,
            client,
        })
    }

    fn error(&self, message: impl Into<String>) -> EmbedError {
        EmbedError::Endpoint {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    async fn request(
        &self,
        client: &reqwest::Client,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::to_vec(&serde_json::json!({"model": self.model, "input": texts}))
            .map_err(|e| self.error(format!("could not encode the request: {e}")))?;
        let mut req = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.0.trim());
        }
        // `without_url`: the error text must not repeat the URL (it is in our message already).
        let resp = req
            .send()
            .await
            .map_err(|e| self.error(format!("request failed: {}", e.without_url())))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.error(format!("reading the response failed: {}", e.without_url())))?;
        if !status.is_success() {
            let excerpt: String = String::from_utf8_lossy(&body)
                .chars()
                .take(BODY_EXCERPT)
                .collect();
            let hint = match status.as_u16() {
                401 | 403 => "; check the API key Secret (search.embedding.openAi.apiKeySecretRef)",
                404 => {
                    "; check the URL (the gateway posts to <url>/v1/embeddings) and the model name"
                }
                _ => "",
            };
            return Err(self.error(format!("HTTP {status}{hint}: {excerpt}")));
        }
        let parsed: Response = serde_json::from_slice(&body).map_err(|e| {
            self.error(format!(
                "the response is not an embeddings list ({{\"data\": [{{\"embedding\": [...]}}]}}): {e}"
            ))
        })?;
        if parsed.data.len() != texts.len() {
            return Err(self.error(format!(
                "asked for {} embeddings, got {}",
                texts.len(),
                parsed.data.len()
            )));
        }
        let mut out = vec![Vec::new(); texts.len()];
        for (i, item) in parsed.data.into_iter().enumerate() {
            let at = item.index.unwrap_or(i);
            match out.get_mut(at) {
                Some(slot) if slot.is_empty() => *slot = item.embedding,
                _ => return Err(self.error(format!("bad or repeated index {at} in the response"))),
            }
        }
        Ok(out)
    }
}

impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Reloads run on blocking threads (or before any runtime exists): a short-lived runtime
        // on a scoped thread works from either, without touching the server's executor.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| self.error(format!("could not start a runtime: {e}")))?;
                    let client = client()
                        .map_err(|e| self.error(format!("could not build the HTTP client: {e}")))?;
                    rt.block_on(self.request(&client, texts))
                })
                .join()
                .map_err(|_| self.error("the embedding thread panicked"))?
        })
    }

    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
        Box::pin(async move {
            let mut out = self.request(&self.client, &[text.to_string()]).await?;
            out.pop()
                .ok_or_else(|| self.error("no vector for the query"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::embed::tests::letters;
    use axum::{Json, Router, extract::State, http::HeaderMap, routing::post};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    async fn serve(fail: bool) -> (String, Arc<AtomicU64>) {
        let inputs = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route(
                "/v1/embeddings",
                post(
                    |State((count, fail)): State<(Arc<AtomicU64>, bool)>,
                     headers: HeaderMap,
                     Json(body): Json<serde_json::Value>| async move {
                        let authorized = headers
                            .get("authorization")
                            .is_some_and(|v| v == "Bearer sk-test");
                        if fail || !authorized {
                            return (
                                axum::http::StatusCode::UNAUTHORIZED,
                                Json(serde_json::json!({"error": {"message": "bad key"}})),
                            );
                        }
                        assert_eq!(body["model"], "text-embedding-3-small");
                        let input: Vec<String> =
                            serde_json::from_value(body["input"].clone()).unwrap();
                        count.fetch_add(input.len() as u64, Ordering::SeqCst);
                        // Answer out of order: the client must sort by index.
                        let data: Vec<_> = input
                            .iter()
                            .enumerate()
                            .rev()
                            .map(|(i, t)| serde_json::json!({"object": "embedding", "index": i, "embedding": letters(t)}))
                            .collect();
                        (axum::http::StatusCode::OK, Json(serde_json::json!({"object": "list", "data": data})))
                    },
                ),
            )
            .with_state((inputs.clone(), fail));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), inputs)
    }

    #[tokio::test]
    async fn embeds_through_the_endpoint_in_order_with_the_key() {
        let (url, inputs) = serve(false).await;
        let e = Arc::new(
            OpenAiEmbedder::new(
                &url,
                "text-embedding-3-small",
                Some(SecretValue("sk-test\n".into())),
            )
            .unwrap(),
        );
        let e2 = e.clone();
        let texts = vec!["abc".to_string(), "zzz".to_string()];
        let out = tokio::task::spawn_blocking(move || e2.embed_blocking(&texts))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out[0], letters("abc"));
        assert_eq!(out[1], letters("zzz"));
        let q = e.embed_query("hello").await.unwrap();
        assert_eq!(q, letters("hello"));
        assert_eq!(inputs.load(Ordering::SeqCst), 3);
        assert!(!format!("{e:?}").contains("sk-test"));
    }

    #[tokio::test]
    async fn failures_say_what_to_fix_without_the_key() {
        let (url, _) = serve(true).await;
        let e = OpenAiEmbedder::new(
            &url,
            "text-embedding-3-small",
            Some(SecretValue("sk-secret-value".into())),
        )
        .unwrap();
        let err = e.embed_query("x").await.unwrap_err().to_string();
        assert!(
            err.contains("401") && err.contains("apiKeySecretRef"),
            "{err}"
        );
        assert!(!err.contains("sk-secret-value"), "{err}");
        // Nothing listens on port 9 (discard) on loopback.
        let down = OpenAiEmbedder::new("http://127.0.0.1:9", "m", None).unwrap();
        let err = tokio::task::spawn_blocking(move || down.embed_blocking(&["x".into()]))
            .await
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("http://127.0.0.1:9/v1/embeddings") && err.contains("request failed"),
            "{err}"
        );
    }

    #[test]
    fn url_forms() {
        assert_eq!(embeddings_url("http://h:1/"), "http://h:1/v1/embeddings");
        assert_eq!(
            embeddings_url("https://h/openai/deployments/x/embeddings"),
            "https://h/openai/deployments/x/embeddings"
        );
    }
}
