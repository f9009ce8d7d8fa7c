//! SigV4 signing of `reqwest` requests (header signature, body hashed).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use reqwest::header::{HeaderName, HeaderValue};

use super::{Error, credentials};

/// RFC 3986 unreserved characters: the only ones SigV4 leaves unencoded in a canonical query.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Rewrites the query of `url` in SigV4's canonical encoding, pair order kept: each name and
/// value decoded as form data (as the signer reads them: `+` is a space) and re-encoded with
/// every byte outside RFC 3986's unreserved set as `%XY` (a space as `%20`, never `+`).
///
/// Why: the signer canonicalizes the query that way, but a server canonicalizes the query it
/// receives. A query written as form data (`+` for a space, as `Url::query_pairs_mut` writes it)
/// or with reserved characters left raw (OpenAPI `allowReserved`) would be signed as one string
/// and checked as another; after this rewrite the wire carries exactly what was signed.
fn canonicalize_query(url: &mut reqwest::Url) {
    if url.query().is_none_or(str::is_empty) {
        return;
    }
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string();
    let pairs: Vec<String> = url
        .query_pairs()
        .map(|(name, value)| format!("{}={}", encode(&name), encode(&value)))
        .collect();
    url.set_query(Some(&pairs.join("&")));
}

/// Signs requests for one AWS service (signing name) in one region.
///
/// Cheap to clone and to keep per target; it holds no credentials (they come from
/// [`credentials`](super::credentials) at signing time, so refreshed credentials are used as soon
/// as the provider has them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    service: String,
    region: String,
    content_sha256: bool,
    s3_paths: bool,
}

/// Services that need the `x-amz-content-sha256` header and S3's single-encoded,
/// non-normalized canonical paths.
fn is_s3_like(service: &str) -> bool {
    matches!(service, "s3" | "s3-outposts" | "s3express" | "glacier")
}

impl Signer {
    /// A signer for `service` (the SigV4 signing name, e.g. `lambda`, `execute-api`, `dynamodb`)
    /// in `region` (e.g. `us-east-1`). S3-style services get `x-amz-content-sha256` and S3's path
    /// rules automatically.
    pub fn new(service: impl Into<String>, region: impl Into<String>) -> Self {
        let service = service.into();
        let s3 = is_s3_like(&service);
        Self {
            service,
            region: region.into(),
            content_sha256: s3,
            s3_paths: s3,
        }
    }

    /// Adds (or omits) the `x-amz-content-sha256` header, for services beyond S3 that require it.
    #[must_use]
    pub fn with_content_sha256(mut self, on: bool) -> Self {
        self.content_sha256 = on;
        self
    }

    /// The signing name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs `request` in place with the gateway's current AWS credentials: adds `x-amz-date`,
    /// `authorization`, `x-amz-security-token` (temporary credentials) and, where the service
    /// needs it, `x-amz-content-sha256`. Call it last, after every header and the body are set;
    /// headers added later (reqwest's `user-agent`, `content-length`) are not signed, which AWS
    /// accepts.
    pub async fn sign(&self, request: &mut reqwest::Request) -> Result<(), Error> {
        let creds = credentials().await?;
        self.sign_with(request, &creds, SystemTime::now())
    }

    /// Signs `request` with the given credentials at the given time (deterministic; tests and
    /// callers with their own identity use it).
    pub fn sign_with(
        &self,
        request: &mut reqwest::Request,
        creds: &Credentials,
        time: SystemTime,
    ) -> Result<(), Error> {
        let mut settings = SigningSettings::default();
        if self.content_sha256 {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        if self.s3_paths {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        canonicalize_query(request.url_mut());
        let identity = creds.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| Error::Signing(e.to_string()))?
            .into();
        let instructions = {
            let body = match request.body() {
                None => &[][..],
                Some(b) => b.as_bytes().ok_or(Error::StreamingBody)?,
            };
            // Header values that are not visible ASCII cannot be canonicalized; they are sent
            // unsigned (SigV4 only requires `host` and `x-amz-*` to be signed).
            let headers = request
                .headers()
                .iter()
                .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)));
            let signable = SignableRequest::new(
                request.method().as_str(),
                request.url().as_str(),
                headers,
                SignableBody::Bytes(body),
            )
            .map_err(|e| Error::Signing(e.to_string()))?;
            let (instructions, _signature) = sign(signable, &params)
                .map_err(|e| Error::Signing(e.to_string()))?
                .into_parts();
            instructions
        };
        let (headers, _query) = instructions.into_parts();
        for header in headers {
            let mut value = HeaderValue::from_str(header.value()).map_err(|_| {
                Error::Signing(format!("the {} header value is not valid", header.name()))
            })?;
            value.set_sensitive(header.sensitive());
            request
                .headers_mut()
                .insert(HeaderName::from_static(header.name()), value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Signatures from AWS's published SigV4 test suite (context: `AKIDEXAMPLE`, region
    //! `us-east-1`, service `service`, 2015-08-30T12:36:00Z). The expected values are facts of
    //! the algorithm; the requests are rebuilt here as `reqwest` requests.

    use super::*;
    use std::time::Duration;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn time() -> SystemTime {
        // 2015-08-30T12:36:00Z
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn creds(token: Option<&str>) -> Credentials {
        Credentials::new("AKIDEXAMPLE", SECRET, token.map(String::from), None, "test")
    }

    fn request(method: &str, url: &str) -> reqwest::Request {
        reqwest::Request::new(method.parse().unwrap(), reqwest::Url::parse(url).unwrap())
    }

    fn signature(req: &reqwest::Request) -> String {
        let auth = req.headers()["authorization"].to_str().unwrap();
        auth.rsplit_once("Signature=").unwrap().1.to_string()
    }

    fn signed(mut req: reqwest::Request, signer: &Signer, token: Option<&str>) -> reqwest::Request {
        signer.sign_with(&mut req, &creds(token), time()).unwrap();
        req
    }

    #[test]
    fn get_vanilla() {
        let req = signed(
            request("GET", "https://example.amazonaws.com/"),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
        assert_eq!(
            req.headers()["authorization"].to_str().unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(req.headers().get("x-amz-content-sha256").is_none());
    }

    #[test]
    fn post_vanilla() {
        let req = signed(
            request("POST", "https://example.amazonaws.com/"),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let req = signed(
            request(
                "GET",
                "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            ),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn get_vanilla_with_session_token() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let req = signed(
            request("GET", "https://example.amazonaws.com/"),
            &Signer::new("service", "us-east-1"),
            Some(token),
        );
        assert_eq!(
            signature(&req),
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        );
        assert_eq!(req.headers()["x-amz-security-token"], token);
        assert!(req.headers()["x-amz-security-token"].is_sensitive());
    }

    #[test]
    fn get_vanilla_query_unreserved() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let req = signed(
            request(
                "GET",
                &format!("https://example.amazonaws.com/?{unreserved}={unreserved}"),
            ),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"
        );
    }

    #[test]
    fn post_header_value_case_and_trim() {
        let mut req = request("POST", "https://example.amazonaws.com/");
        req.headers_mut()
            .insert("my-header1", HeaderValue::from_static("VALUE1"));
        let req = signed(req, &Signer::new("service", "us-east-1"), None);
        assert_eq!(
            signature(&req),
            "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"
        );

        let mut req = request("GET", "https://example.amazonaws.com/");
        req.headers_mut()
            .insert("my-header1", HeaderValue::from_static("value1"));
        req.headers_mut()
            .insert("my-header2", HeaderValue::from_static("\"a   b   c\""));
        let req = signed(req, &Signer::new("service", "us-east-1"), None);
        assert_eq!(
            signature(&req),
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        );
    }

    #[test]
    fn post_vanilla_query() {
        let req = signed(
            request("POST", "https://example.amazonaws.com/?Param1=value1"),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"
        );
    }

    #[test]
    fn get_vanilla_query_order_encoded() {
        let req = signed(
            request(
                "GET",
                "https://example.amazonaws.com/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            ),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"
        );
    }

    #[test]
    fn get_vanilla_utf8_query() {
        let req = signed(
            request("GET", "https://example.amazonaws.com/?\u{1234}=bar"),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(
            signature(&req),
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"
        );
        assert_eq!(req.url().query(), Some("%E1%88%B4=bar"));
    }

    /// A space, `+`, `:`, `/` and `*` in a query value, written the ways the gateway writes
    /// queries (form encoding through `query_pairs_mut`, raw reserved characters for
    /// `allowReserved`): the wire query becomes the canonical one and the signature is the one
    /// botocore computes for `?q=a%20b%2Bc%3Ad%2Fe%2A` (same context as the AWS suite).
    #[test]
    fn reserved_characters_in_the_query_are_sent_as_signed() {
        const EXPECTED: &str = "346e2cc6768594ba8b6615a8b66ea2b3f6cf74d5bb27a9d7800511c4b6137014";
        let signer = Signer::new("service", "us-east-1");
        let mut form = request("GET", "https://example.amazonaws.com/");
        form.url_mut()
            .query_pairs_mut()
            .append_pair("q", "a b+c:d/e*");
        assert_eq!(form.url().query(), Some("q=a+b%2Bc%3Ad%2Fe*"));
        let raw_reserved = request("GET", "https://example.amazonaws.com/?q=a%20b%2Bc:d/e*");
        let strict = request(
            "GET",
            "https://example.amazonaws.com/?q=a%20b%2Bc%3Ad%2Fe%2A",
        );
        for req in [form, raw_reserved, strict] {
            let req = signed(req, &signer, None);
            assert_eq!(req.url().query(), Some("q=a%20b%2Bc%3Ad%2Fe%2A"));
            assert_eq!(signature(&req), EXPECTED);
        }
    }

    #[test]
    fn query_order_and_empty_values_survive_the_rewrite() {
        let req = signed(
            request("GET", "https://example.amazonaws.com/?b=2&a&c=&a=1"),
            &Signer::new("service", "us-east-1"),
            None,
        );
        assert_eq!(req.url().query(), Some("b=2&a=&c=&a=1"));
    }

    #[test]
    fn post_x_www_form_urlencoded_signs_body_hash() {
        let mut req = request("POST", "https://example.amazonaws.com/");
        req.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        req.headers_mut()
            .insert("content-length", HeaderValue::from_static("13"));
        *req.body_mut() = Some("Param1=value1".into());
        let req = signed(
            req,
            &Signer::new("service", "us-east-1").with_content_sha256(true),
            None,
        );
        assert_eq!(
            signature(&req),
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
        );
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
    }

    #[test]
    fn body_changes_the_signature() {
        let signer = Signer::new("lambda", "us-east-1");
        let mut a = request("POST", "https://lambda.us-east-1.amazonaws.com/x");
        *a.body_mut() = Some("{\"a\":1}".into());
        let mut b = request("POST", "https://lambda.us-east-1.amazonaws.com/x");
        *b.body_mut() = Some("{\"a\":2}".into());
        assert_ne!(
            signature(&signed(a, &signer, None)),
            signature(&signed(b, &signer, None))
        );
    }

    #[test]
    fn s3_gets_content_sha256_and_streams_are_refused() {
        let req = signed(
            request("GET", "https://bucket.s3.amazonaws.com/key"),
            &Signer::new("s3", "us-east-1"),
            None,
        );
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut streamed = request("POST", "https://example.amazonaws.com/");
        let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(vec![1u8])]);
        *streamed.body_mut() = Some(reqwest::Body::wrap_stream(stream));
        let err = Signer::new("service", "us-east-1")
            .sign_with(&mut streamed, &creds(None), time())
            .unwrap_err();
        assert!(matches!(err, Error::StreamingBody));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = creds(Some("TOKEN-VALUE"));
        let text = format!("{c:?}");
        assert!(!text.contains(SECRET) && !text.contains("TOKEN-VALUE"));
    }
}
