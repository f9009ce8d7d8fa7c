//! Where a target's calls go, computed once per reload when the snapshot is built: a Lambda
//! function's Invoke API URL. Here rather than in `invoke::lambda` so that the snapshot (data)
//! does not depend on the invoker that uses it.

/// Bytes kept as they are in a path segment (RFC 3986 unreserved).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The Invoke API URL of a function: `{endpoint}/2015-03-31/functions/{function}/invocations`,
/// with the ARN's version or alias as `?Qualifier=`. The function is named by its unqualified ARN
/// (which also selects the account), percent-encoded as one path segment.
pub fn invoke_url(endpoint: &str, function_arn: &str) -> Result<reqwest::Url, String> {
    let parts: Vec<&str> = function_arn.split(':').collect();
    if parts.len() < 7 || parts.len() > 8 || parts[0] != "arn" || parts[2] != "lambda" {
        return Err(format!(
            "{function_arn:?} is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:qualifier])"
        ));
    }
    let unqualified = parts[..7].join(":");
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("the Lambda endpoint {endpoint:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "the Lambda endpoint {endpoint:?} must be an http(s) URL with a host"
        ));
    }
    // Encoded like the AWS SDKs do (`:` as `%3A`): every byte but RFC 3986's unreserved ones.
    let function = percent_encoding::utf8_percent_encode(&unqualified, UNRESERVED);
    let path = format!(
        "{}/2015-03-31/functions/{function}/invocations",
        url.path().trim_end_matches('/')
    );
    url.set_path(&path);
    url.set_query(None);
    if let Some(qualifier) = parts.get(7) {
        url.query_pairs_mut().append_pair("Qualifier", qualifier);
    }
    Ok(url)
}
