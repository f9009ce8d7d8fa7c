//! Schema URLs (`schema.url`) fetched for standalone mode, with the operator's limits (15 s per
//! document, 5 s to connect, at most 32 MiB, no redirects to other schemes), so that a folder of
//! manifests compiles the same standalone as in a cluster. A URL that cannot be fetched is
//! reported on its target with the reason (`could not fetch <url>: <why>`) while the other
//! targets compile, as the operator does.

use std::collections::{BTreeMap, BTreeSet};
use toolyard_compile::fetch_limits::{CONNECT_TIMEOUT, MAX_URL_BYTES, TIMEOUT};
use toolyard_crds::GatewayTarget;

/// Fetched documents by URL, and why the others could not be fetched.
#[derive(Debug, Default)]
pub struct Fetched {
    /// URL → text.
    pub texts: BTreeMap<String, String>,
    /// URL → short reason (never a credential: schema URLs carry none).
    pub errors: BTreeMap<String, String>,
}

/// The schema URLs the targets reference (OpenAPI and Smithy `schema.url`).
pub fn schema_urls(targets: &[GatewayTarget]) -> BTreeSet<String> {
    targets
        .iter()
        .flat_map(|t| {
            [
                t.spec.open_api.as_ref().and_then(|o| o.schema.url.clone()),
                t.spec.smithy.as_ref().and_then(|s| s.schema.url.clone()),
            ]
        })
        .flatten()
        .collect()
}

/// Fetches every URL, one after another. Runs on a thread of its own with its own small async
/// runtime, so it can be called from synchronous code inside or outside the gateway's runtime.
pub fn fetch_all(urls: &BTreeSet<String>) -> Fetched {
    if urls.is_empty() {
        return Fetched::default();
    }
    let urls = urls.clone();
    let worker = std::thread::spawn(move || {
        let mut out = Fetched::default();
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                for url in urls {
                    out.errors
                        .insert(url, format!("could not start the fetcher: {e}"));
                }
                return out;
            }
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("toolyard-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        for url in urls {
            match runtime.block_on(fetch(&client, &url)) {
                Ok(text) => {
                    out.texts.insert(url, text);
                }
                Err(why) => {
                    out.errors.insert(url, why);
                }
            }
        }
        out
    });
    worker.join().unwrap_or_default()
}

/// One document, within the limits; the error is a short reason.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut response = client.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else if e.is_builder() {
            "not a valid http(s) URL".to_owned()
        } else {
            "request failed".to_owned()
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_URL_BYTES as u64)
    {
        return Err(format!("larger than {MAX_URL_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_owned()
        } else {
            "reading the body failed".to_owned()
        }
    })? {
        if body.len() + chunk.len() > MAX_URL_BYTES {
            return Err(format!("larger than {MAX_URL_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the document is not UTF-8 text".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-shot HTTP server on loopback answering every request with `response`.
    fn serve(response: Vec<u8>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(&response);
            }
        });
        format!("http://127.0.0.1:{port}/spec.yaml")
    }

    #[test]
    fn fetches_documents_and_reports_failures() {
        let doc = "openapi: 3.0.0\n";
        let ok = serve(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
                doc.len()
            )
            .into_bytes(),
        );
        let missing = serve(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
        );
        let huge = serve(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                MAX_URL_BYTES + 1
            )
            .into_bytes(),
        );
        let urls: BTreeSet<String> = [
            ok.clone(),
            missing.clone(),
            huge.clone(),
            "ftp://x/y".into(),
        ]
        .into_iter()
        .collect();
        let fetched = fetch_all(&urls);
        assert_eq!(fetched.texts.get(&ok).map(String::as_str), Some(doc));
        assert_eq!(
            fetched.errors.get(&missing).map(String::as_str),
            Some("HTTP 404")
        );
        assert!(
            fetched.errors[&huge].starts_with("larger than"),
            "{:?}",
            fetched.errors
        );
        assert!(fetched.errors.contains_key("ftp://x/y"));
    }
}
