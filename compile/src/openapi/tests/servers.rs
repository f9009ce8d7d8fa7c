//! Servers and base URLs.

use super::*;

const SERVERS: &str = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
servers:
  - url: "https://{region}.api.example.com:{port}/{version}/"
    variables:
      region: {default: eu, enum: [eu, us]}
      port: {default: "443"}
      version: {default: v2}
paths: {}
"#;

#[test]
fn server_variables_use_defaults_and_overrides() {
    let base = |variables: &[(&str, &str)]| match compile_with(SERVERS, None, variables) {
        Ok(api) => api.base_url,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(base(&[]), "https://eu.api.example.com:443/v2");
    assert_eq!(
        base(&[("region", "us"), ("version", "v3"), ("unused", "x")]),
        "https://us.api.example.com:443/v3"
    );
}

#[test]
fn configured_base_url_replaces_every_server() {
    let configured = |document: &str| match compile_with(document, Some("http://svc.ns:8080/"), &[])
    {
        Ok(api) => api.base_url,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(configured(SERVERS), "http://svc.ns:8080");
    let relative = "openapi: 3.0.0\ninfo: {}\nservers: [{url: /v1/}]\npaths: {}\n";
    // A relative server is replaced too, not appended (docs/crd-reference.md, baseUrl).
    assert_eq!(configured(relative), "http://svc.ns:8080");
    let no_servers = "openapi: 3.0.0\ninfo: {}\npaths: {}\n";
    assert_eq!(configured(no_servers), "http://svc.ns:8080");
    // Without a configured URL a relative server is an error that says what to set.
    match compile_with(relative, None, &[]) {
        Err(error @ OpenApiError::NoBaseUrl { .. }) => {
            assert!(
                error.to_string().contains("spec.openApi.baseUrl"),
                "{error}"
            );
        }
        other => panic!("expected NoBaseUrl, got {other:?}"),
    }
    assert!(matches!(
        compile_with(no_servers, None, &[]),
        Err(OpenApiError::NoBaseUrl { .. })
    ));
    assert!(matches!(
        compile_with(no_servers, Some("ftp://x"), &[]),
        Err(OpenApiError::InvalidBaseUrl { .. })
    ));
    let missing_default =
        "openapi: 3.0.0\ninfo: {}\nservers: [{url: 'https://{tenant}.example.com'}]\npaths: {}\n";
    match compile_with(missing_default, None, &[]) {
        Err(error @ OpenApiError::ServerVariable { .. }) => {
            assert!(error.to_string().contains("tenant"));
        }
        other => panic!("expected ServerVariable, got {other:?}"),
    }
    match compile_with(missing_default, None, &[("tenant", "acme")]) {
        Ok(api) => assert_eq!(api.base_url, "https://acme.example.com"),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn operation_servers_elsewhere_are_their_calls_base_url() {
    let document = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /upload:
    post:
      operationId: upload
      servers: [{url: "https://uploads.example.com"}]
      responses: {}
  /same:
    servers: [{url: "https://api.example.com/v1/"}]
    get: {operationId: same, responses: {}}
  /beneath:
    get:
      operationId: beneath
      servers: [{url: "https://api.example.com/v1/beta"}]
      responses: {}
"#;
    let api = match compile_with(document, None, &[]) {
        Ok(api) => api,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(names(&api), ["upload", "same", "beneath"]);
    assert_eq!(http(tool(&api, "beneath")).path, "/beta/beneath");
    assert_eq!(http(tool(&api, "beneath")).base_url, None);
    assert_eq!(http(tool(&api, "same")).base_url, None);
    // Elsewhere: its own absolute base URL (the gateway checks allowedDomains per call).
    let upload = http(tool(&api, "upload"));
    assert_eq!(
        upload.base_url.as_deref(),
        Some("https://uploads.example.com")
    );
    assert_eq!(upload.path, "/upload");
    // A relative server of its own is resolved against the base URL (RFC 3986): beside it on the
    // same host, or beneath it.
    let relative = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /x:
    get: {operationId: x, servers: [{url: "/v2"}], responses: {}}
  /y:
    get: {operationId: y, servers: [{url: "/v1/beta/"}], responses: {}}
"#;
    let api = match compile_with(relative, None, &[]) {
        Ok(api) => api,
        Err(error) => panic!("{error}"),
    };
    let x = http(tool(&api, "x"));
    assert_eq!(x.base_url.as_deref(), Some("https://api.example.com/v2"));
    assert_eq!(x.path, "/x");
    let y = http(tool(&api, "y"));
    assert_eq!((y.base_url.as_deref(), y.path.as_str()), (None, "/beta/y"));
    // With a configured base URL, relative operation servers go to the configured host.
    let api = match compile_with(relative, Some("http://prism:4010/v1"), &[]) {
        Ok(api) => api,
        Err(error) => panic!("{error}"),
    };
    let x = http(tool(&api, "x"));
    assert_eq!(x.base_url.as_deref(), Some("http://prism:4010/v2"));
}
