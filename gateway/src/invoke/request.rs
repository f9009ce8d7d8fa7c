//! Building an HTTP request from a call plan and arguments (pure, so every style is unit-tested).
//!
//! Safety rules: the scheme, host and port always come from the target's base URL; argument
//! values are percent-encoded so a path parameter can never add a segment (`/` becomes `%2F`)
//! and the dot segments `.` and `..` are refused outright (URL parsers normalize them even when
//! encoded).

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};
use toolyard_crds::config::{
    BodyEncoding, BodyShape, HttpCall, ParamExpansion, ParamLocation, ParamStyle,
};

/// Characters left as-is in path segments and query components: RFC 3986 unreserved.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// With `allowReserved`: unreserved plus reserved characters that are safe inside a query value.
const QUERY_RESERVED_OK: &AsciiSet = &UNRESERVED
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';');

/// A request ready to send.
#[derive(Debug, PartialEq)]
pub struct BuiltRequest {
    /// Full URL.
    pub url: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body and its content type.
    pub body: Option<(String, Body)>,
}

/// A request body.
#[derive(Debug, PartialEq)]
pub enum Body {
    /// Bytes sent as-is.
    Bytes(Vec<u8>),
    /// Multipart form fields.
    Multipart {
        /// Text parts (name, value).
        fields: Vec<(String, String)>,
        /// Parts holding an object as JSON text (name, JSON), sent as `application/json`: the
        /// OpenAPI default content type of an object property in a multipart body.
        json_parts: Vec<(String, String)>,
        /// File parts (name, bytes), sent with the name as file name.
        files: Vec<(String, Vec<u8>)>,
    },
}

/// Why a request could not be built from the arguments.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    /// A path parameter value that would change the path.
    #[error("argument {0:?}: '.' and '..' are not allowed as path parameter values")]
    DotSegment(String),
    /// A value of the wrong shape.
    #[error("argument {arg:?}: {message}")]
    BadValue {
        /// Argument.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// A required body is missing.
    #[error("the request body is required")]
    MissingBody,
}

/// Scalar text of a value: strings unquoted, other scalars as JSON, compound values as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Serializes a path parameter value (style simple/label/matrix).
fn path_value(name: &str, value: &Value, style: ParamStyle, explode: bool) -> String {
    let items: Vec<String> = match value {
        Value::Array(a) => a.iter().map(|v| enc(&text(v))).collect(),
        Value::Object(o) => {
            if explode {
                o.iter()
                    .map(|(k, v)| format!("{}={}", enc(k), enc(&text(v))))
                    .collect()
            } else {
                o.iter()
                    .flat_map(|(k, v)| [enc(k), enc(&text(v))])
                    .collect()
            }
        }
        v => vec![enc(&text(v))],
    };
    match style {
        ParamStyle::Label => {
            let sep = if explode { "." } else { "," };
            format!(".{}", items.join(sep))
        }
        ParamStyle::Matrix => {
            if explode && value.is_array() {
                items.iter().map(|i| format!(";{name}={i}")).collect()
            } else {
                format!(";{name}={}", items.join(","))
            }
        }
        _ => items.join(","),
    }
}

/// Appends `name=value` pairs for one query parameter.
fn query_pairs(
    name: &str,
    value: &Value,
    style: ParamStyle,
    explode: bool,
    allow_reserved: bool,
    out: &mut Vec<String>,
) {
    let set = if allow_reserved {
        QUERY_RESERVED_OK
    } else {
        UNRESERVED
    };
    let e = |s: &str| utf8_percent_encode(s, set).to_string();
    let n = enc(name);
    match (value, style) {
        (Value::Object(o), ParamStyle::DeepObject) => {
            for (k, v) in o {
                out.push(format!("{n}%5B{}%5D={}", enc(k), e(&text(v))));
            }
        }
        (Value::Object(o), _) if explode => {
            for (k, v) in o {
                out.push(format!("{}={}", enc(k), e(&text(v))));
            }
        }
        (Value::Object(o), _) => {
            let joined: Vec<String> = o.iter().flat_map(|(k, v)| [e(k), e(&text(v))]).collect();
            out.push(format!("{n}={}", joined.join(",")));
        }
        (Value::Array(a), ParamStyle::SpaceDelimited) => {
            out.push(format!(
                "{n}={}",
                a.iter()
                    .map(|v| e(&text(v)))
                    .collect::<Vec<_>>()
                    .join("%20")
            ));
        }
        (Value::Array(a), ParamStyle::PipeDelimited) => {
            out.push(format!(
                "{n}={}",
                a.iter()
                    .map(|v| e(&text(v)))
                    .collect::<Vec<_>>()
                    .join("%7C")
            ));
        }
        (Value::Array(a), _) if explode => {
            for v in a {
                out.push(format!("{n}={}", e(&text(v))));
            }
        }
        (Value::Array(a), _) => {
            out.push(format!(
                "{n}={}",
                a.iter().map(|v| e(&text(v))).collect::<Vec<_>>().join(",")
            ));
        }
        (v, _) => out.push(format!("{n}={}", e(&text(v)))),
    }
}

/// Header or cookie value (style simple/form): arrays comma-joined, objects `k,v` or `k=v`.
fn flat_value(value: &Value, explode: bool) -> String {
    match value {
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            if explode {
                o.iter()
                    .map(|(k, v)| format!("{k}={}", text(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                o.iter()
                    .flat_map(|(k, v)| [k.clone(), text(v)])
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        v => text(v),
    }
}

/// Builds the request for `plan` against `base_url` with `args`.
pub fn build(
    base_url: &str,
    plan: &HttpCall,
    args: &Map<String, Value>,
) -> Result<BuiltRequest, RequestError> {
    let mut path = plan.path.clone();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let mut cookies = Vec::new();
    let mut map_query = Vec::new();
    for p in &plan.params {
        let Some(value) = args.get(&p.arg) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match p.expand {
            None => {}
            Some(ParamExpansion::Greedy) => {
                let raw = text(value);
                if raw
                    .split('/')
                    .any(|segment| segment == "." || segment == "..")
                {
                    return Err(RequestError::DotSegment(p.arg.clone()));
                }
                let encoded: Vec<String> = raw.split('/').map(enc).collect();
                path = path.replace(&format!("{{{}}}", p.name), &encoded.join("/"));
                continue;
            }
            Some(ParamExpansion::PrefixHeaders) => {
                for (key, v) in object_arg(p, value)? {
                    let v = flat_value(v, false);
                    if v.contains(['\r', '\n']) || !is_token(key) {
                        return Err(RequestError::BadValue {
                            arg: p.arg.clone(),
                            message: format!("header {key:?} has an invalid name or a line break"),
                        });
                    }
                    headers.push((format!("{}{key}", p.name), v));
                }
                continue;
            }
            Some(ParamExpansion::QueryMap) => {
                map_query.push((p, value));
                continue;
            }
        }
        match p.location {
            ParamLocation::Path => {
                let raw = text(value);
                if raw == "." || raw == ".." {
                    return Err(RequestError::DotSegment(p.arg.clone()));
                }
                let encoded = path_value(&p.name, value, p.style, p.explode);
                path = path.replace(&format!("{{{}}}", p.name), &encoded);
            }
            ParamLocation::Query => query_pairs(
                &p.name,
                value,
                p.style,
                p.explode,
                p.allow_reserved,
                &mut query,
            ),
            ParamLocation::Header => {
                let v = flat_value(value, p.explode);
                if v.contains(['\r', '\n']) {
                    return Err(RequestError::BadValue {
                        arg: p.arg.clone(),
                        message: "header values cannot contain line breaks".into(),
                    });
                }
                headers.push((p.name.clone(), v));
            }
            ParamLocation::Cookie => {
                let v = flat_value(value, p.explode);
                cookies.push(format!(
                    "{}={}",
                    p.name,
                    utf8_percent_encode(&v, UNRESERVED)
                ));
            }
        }
    }
    // Named query parameters win over the same key of a query map (Smithy's rule).
    let named: Vec<&str> = plan
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Query && p.expand.is_none())
        .map(|p| p.name.as_str())
        .collect();
    for (p, value) in map_query {
        for (key, v) in object_arg(p, value)? {
            if !named.contains(&key.as_str()) {
                query_pairs(key, v, ParamStyle::Form, true, false, &mut query);
            }
        }
    }
    if !cookies.is_empty() {
        headers.push(("Cookie".into(), cookies.join("; ")));
    }
    let mut url = format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        }
    );
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
    }

    let body = match &plan.body {
        None => None,
        Some(b) => {
            let value = match &b.shape {
                BodyShape::Argument { name } => args.get(name).cloned(),
                BodyShape::Merged { properties } => {
                    let obj: Map<String, Value> = properties
                        .iter()
                        .filter_map(|p| args.get(p).map(|v| (p.clone(), v.clone())))
                        .collect();
                    (!obj.is_empty() || b.required).then_some(Value::Object(obj))
                }
            };
            match value {
                None if b.required => return Err(RequestError::MissingBody),
                None => None,
                Some(v) if b.base64 => Some((b.media_type.clone(), decode_base64(&v)?)),
                Some(v) => Some((
                    b.media_type.clone(),
                    encode_body(b.encoding, &v, &b.file_parts)?,
                )),
            }
        }
    };
    Ok(BuiltRequest { url, headers, body })
}

/// The object value of a map-expanded argument.
fn object_arg<'a>(
    p: &toolyard_crds::config::ParamBinding,
    value: &'a Value,
) -> Result<&'a Map<String, Value>, RequestError> {
    value.as_object().ok_or_else(|| RequestError::BadValue {
        arg: p.arg.clone(),
        message: "expected an object of names to values".into(),
    })
}

/// RFC 9110 token characters (header names).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Raw bytes of a base64 argument (a Smithy blob payload).
fn decode_base64(value: &Value) -> Result<Body, RequestError> {
    let bad = |message: &str| RequestError::BadValue {
        arg: "body".into(),
        message: message.into(),
    };
    let text = value.as_str().ok_or_else(|| bad("expected base64 text"))?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Body::Bytes)
        .map_err(|e| bad(&format!("not valid base64: {e}")))
}

/// Form and multipart fields of a body object, in OpenAPI's default encoding for both (style
/// form, explode): an array repeats its field once per item (`Scopes=a&Scopes=b`), a `null`
/// property is left out, anything else is one field (objects as JSON text, which a multipart
/// body labels `application/json`).
fn encode_body(
    encoding: BodyEncoding,
    value: &Value,
    file_parts: &[String],
) -> Result<Body, RequestError> {
    // (name, text, whether the text is a JSON object)
    let fields = |v: &Value| -> Result<Vec<(String, String, bool)>, RequestError> {
        match v {
            Value::Object(o) => Ok(o
                .iter()
                .flat_map(|(k, v)| match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|item| (k.clone(), text(item), item.is_object()))
                        .collect(),
                    Value::Null => Vec::new(),
                    v => vec![(k.clone(), text(v), v.is_object())],
                })
                .collect()),
            _ => Err(RequestError::BadValue {
                arg: "body".into(),
                message: "a form body must be an object".into(),
            }),
        }
    };
    Ok(match encoding {
        BodyEncoding::Json => Body::Bytes(serde_json::to_vec(value).unwrap_or_default()),
        BodyEncoding::Text => Body::Bytes(text(value).into_bytes()),
        BodyEncoding::Form => {
            let pairs: Vec<String> = fields(value)?
                .iter()
                .map(|(k, v, _)| format!("{}={}", enc(k), enc(v)))
                .collect();
            Body::Bytes(pairs.join("&").into_bytes())
        }
        BodyEncoding::Multipart => {
            let mut text = Vec::new();
            let mut json_parts = Vec::new();
            let mut files = Vec::new();
            for (name, v, object) in fields(value)? {
                if object {
                    json_parts.push((name, v));
                } else if file_parts.contains(&name) {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .map_err(|e| RequestError::BadValue {
                            arg: name.clone(),
                            message: format!("a file must be base64 text: {e}"),
                        })?;
                    files.push((name, bytes));
                } else {
                    text.push((name, v));
                }
            }
            Body::Multipart {
                fields: text,
                json_parts,
                files,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use toolyard_crds::config::{BodyBinding, ParamBinding};
    use toolyard_crds::gateway::HttpMethod;

    fn param(arg: &str, location: ParamLocation, style: ParamStyle, explode: bool) -> ParamBinding {
        ParamBinding {
            arg: arg.into(),
            name: arg.into(),
            location,
            style,
            explode,
            required: false,
            allow_reserved: false,
            expand: None,
        }
    }

    fn plan(path: &str, params: Vec<ParamBinding>, body: Option<BodyBinding>) -> HttpCall {
        HttpCall {
            method: HttpMethod::Get,
            path: path.into(),
            params,
            body,
            json_response: false,
            base_url: None,
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn path_params_cannot_escape_the_path() {
        let p = plan(
            "/users/{id}",
            vec![param("id", ParamLocation::Path, ParamStyle::Simple, false)],
            None,
        );
        let r = build(
            "http://h:1/api/",
            &p,
            &args(json!({"id": "../admin?x=1#f"})),
        )
        .unwrap();
        assert_eq!(r.url, "http://h:1/api/users/..%2Fadmin%3Fx%3D1%23f");
        assert_eq!(
            build("http://h", &p, &args(json!({"id": ".."}))),
            Err(RequestError::DotSegment("id".into()))
        );
        assert_eq!(
            build("http://h", &p, &args(json!({"id": "."}))),
            Err(RequestError::DotSegment("id".into()))
        );
    }

    #[test]
    fn path_styles() {
        let v = args(json!({"id": [1, 2]}));
        let simple = plan(
            "/x/{id}",
            vec![param("id", ParamLocation::Path, ParamStyle::Simple, false)],
            None,
        );
        assert_eq!(
            build("http://h", &simple, &v).unwrap().url,
            "http://h/x/1,2"
        );
        let label = plan(
            "/x/{id}",
            vec![param("id", ParamLocation::Path, ParamStyle::Label, true)],
            None,
        );
        assert_eq!(
            build("http://h", &label, &v).unwrap().url,
            "http://h/x/.1.2"
        );
        let matrix = plan(
            "/x/{id}",
            vec![param("id", ParamLocation::Path, ParamStyle::Matrix, true)],
            None,
        );
        assert_eq!(
            build("http://h", &matrix, &v).unwrap().url,
            "http://h/x/;id=1;id=2"
        );
    }

    #[test]
    fn query_styles() {
        let cases = [
            (ParamStyle::Form, true, json!(["a b", "c"]), "q=a%20b&q=c"),
            (ParamStyle::Form, false, json!(["a", "c"]), "q=a,c"),
            (
                ParamStyle::SpaceDelimited,
                false,
                json!(["a", "c"]),
                "q=a%20c",
            ),
            (
                ParamStyle::PipeDelimited,
                false,
                json!(["a", "c"]),
                "q=a%7Cc",
            ),
            (
                ParamStyle::DeepObject,
                true,
                json!({"role": "admin", "n": 2}),
                "q%5Brole%5D=admin&q%5Bn%5D=2",
            ),
            (ParamStyle::Form, true, json!({"x": 1, "y": "z"}), "x=1&y=z"),
            (ParamStyle::Form, true, json!(true), "q=true"),
        ];
        for (style, explode, value, expected) in cases {
            let p = plan(
                "/s",
                vec![param("q", ParamLocation::Query, style, explode)],
                None,
            );
            let r = build("http://h", &p, &args(json!({"q": value}))).unwrap();
            assert_eq!(
                r.url,
                format!("http://h/s?{expected}"),
                "{style:?} {explode}"
            );
        }
    }

    #[test]
    fn headers_cookies_and_injection() {
        let p = plan(
            "/s",
            vec![
                param("X-Trace", ParamLocation::Header, ParamStyle::Simple, false),
                param("session", ParamLocation::Cookie, ParamStyle::Form, true),
            ],
            None,
        );
        let r = build(
            "http://h",
            &p,
            &args(json!({"X-Trace": [1, 2], "session": "a b"})),
        )
        .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("X-Trace".into(), "1,2".into()),
                ("Cookie".into(), "session=a%20b".into())
            ]
        );
        assert!(build("http://h", &p, &args(json!({"X-Trace": "a\r\nHost: evil"}))).is_err());
    }

    #[test]
    fn bodies() {
        let merged = BodyBinding {
            media_type: "application/json".into(),
            encoding: BodyEncoding::Json,
            shape: BodyShape::Merged {
                properties: vec!["name".into(), "age".into()],
            },
            required: true,
            base64: false,
            file_parts: Vec::new(),
        };
        let p = plan("/u", vec![], Some(merged));
        let r = build("http://h", &p, &args(json!({"name": "n", "other": 1}))).unwrap();
        assert_eq!(
            r.body,
            Some((
                "application/json".into(),
                Body::Bytes(br#"{"name":"n"}"#.to_vec())
            ))
        );

        let form = BodyBinding {
            media_type: "application/x-www-form-urlencoded".into(),
            encoding: BodyEncoding::Form,
            shape: BodyShape::Argument {
                name: "body".into(),
            },
            required: true,
            base64: false,
            file_parts: Vec::new(),
        };
        let p = plan("/u", vec![], Some(form));
        let r = build("http://h", &p, &args(json!({"body": {"a": "x y", "b": 2}}))).unwrap();
        assert_eq!(
            r.body,
            Some((
                "application/x-www-form-urlencoded".into(),
                Body::Bytes(b"a=x%20y&b=2".to_vec())
            ))
        );
        assert_eq!(
            build("http://h", &p, &args(json!({}))),
            Err(RequestError::MissingBody)
        );
    }

    #[test]
    fn form_and_multipart_arrays_repeat_the_field() {
        let form = |encoding: BodyEncoding, media_type: &str| BodyBinding {
            media_type: media_type.into(),
            encoding,
            shape: BodyShape::Merged {
                properties: vec!["Scopes".into(), "Name".into(), "Gone".into()],
            },
            required: false,
            base64: false,
            file_parts: Vec::new(),
        };
        let value = json!({"Scopes": ["a b", "c"], "Name": "n", "Gone": null});
        let p = plan(
            "/t",
            vec![],
            Some(form(
                BodyEncoding::Form,
                "application/x-www-form-urlencoded",
            )),
        );
        let r = build("http://h", &p, &args(value.clone())).unwrap();
        assert_eq!(
            r.body,
            Some((
                "application/x-www-form-urlencoded".into(),
                Body::Bytes(b"Scopes=a%20b&Scopes=c&Name=n".to_vec())
            ))
        );
        let p = plan(
            "/t",
            vec![],
            Some(form(BodyEncoding::Multipart, "multipart/form-data")),
        );
        let r = build("http://h", &p, &args(value)).unwrap();
        assert_eq!(
            r.body,
            Some((
                "multipart/form-data".into(),
                Body::Multipart {
                    fields: vec![
                        ("Scopes".into(), "a b".into()),
                        ("Scopes".into(), "c".into()),
                        ("Name".into(), "n".into())
                    ],
                    json_parts: vec![],
                    files: vec![]
                }
            ))
        );
    }

    /// A required multipart body merged from `properties`, `file_parts` among them sent as files.
    fn multipart(properties: &[&str], file_parts: &[&str]) -> BodyBinding {
        BodyBinding {
            media_type: "multipart/form-data".into(),
            encoding: BodyEncoding::Multipart,
            shape: BodyShape::Merged {
                properties: properties.iter().map(|p| (*p).into()).collect(),
            },
            required: true,
            base64: false,
            file_parts: file_parts.iter().map(|p| (*p).into()).collect(),
        }
    }

    #[test]
    fn multipart_objects_are_json_parts() {
        let p = plan("/t", vec![], Some(multipart(&["fields", "tags", "n"], &[])));
        let value = json!({"fields": {"name": "a"}, "tags": [{"k": 1}, "x"], "n": 2});
        let r = build("http://h", &p, &args(value)).unwrap();
        assert_eq!(
            r.body,
            Some((
                "multipart/form-data".into(),
                Body::Multipart {
                    fields: vec![("tags".into(), "x".into()), ("n".into(), "2".into())],
                    json_parts: vec![
                        ("fields".into(), r#"{"name":"a"}"#.into()),
                        ("tags".into(), r#"{"k":1}"#.into())
                    ],
                    files: vec![]
                }
            ))
        );
    }

    #[test]
    fn multipart_file_parts_are_sent_decoded() {
        let upload = multipart(&["title", "file", "pages"], &["file", "pages"]);
        let p = plan("/upload", vec![], Some(upload));
        let r = build(
            "http://h",
            &p,
            &args(json!({"title": "t", "file": "AAEC/w==", "pages": ["YQ==", "Yg=="]})),
        )
        .unwrap();
        assert_eq!(
            r.body,
            Some((
                "multipart/form-data".into(),
                Body::Multipart {
                    fields: vec![("title".into(), "t".into())],
                    json_parts: vec![],
                    files: vec![
                        ("file".into(), vec![0, 1, 2, 255]),
                        ("pages".into(), b"a".to_vec()),
                        ("pages".into(), b"b".to_vec())
                    ]
                }
            ))
        );
        assert!(matches!(
            build("http://h", &p, &args(json!({"file": "%%"}))),
            Err(RequestError::BadValue { .. })
        ));
    }

    #[test]
    fn fixed_query_of_a_fragment_path_reaches_the_backend() {
        let p = plan(
            "/?Action=DescribeThings",
            vec![param(
                "MaxRecords",
                ParamLocation::Query,
                ParamStyle::Form,
                true,
            )],
            None,
        );
        let r = build("http://h/base", &p, &args(json!({"MaxRecords": 5}))).unwrap();
        assert_eq!(r.url, "http://h/base/?Action=DescribeThings&MaxRecords=5");
    }

    #[test]
    fn smithy_expansions_greedy_prefix_headers_query_maps_and_blob_payloads() {
        let mut greedy = param("key", ParamLocation::Path, ParamStyle::Simple, false);
        greedy.expand = Some(ParamExpansion::Greedy);
        let mut meta = param("meta", ParamLocation::Header, ParamStyle::Simple, false);
        meta.name = "x-meta-".into();
        meta.expand = Some(ParamExpansion::PrefixHeaders);
        let mut extra = param("extra", ParamLocation::Query, ParamStyle::Form, true);
        extra.expand = Some(ParamExpansion::QueryMap);
        let limit = param("limit", ParamLocation::Query, ParamStyle::Form, true);
        let blob = BodyBinding {
            media_type: "application/octet-stream".into(),
            encoding: BodyEncoding::Text,
            shape: BodyShape::Argument {
                name: "data".into(),
            },
            required: false,
            base64: true,
            file_parts: Vec::new(),
        };
        let p = plan(
            "/b/{key}?x-id=Put",
            vec![greedy, meta, extra, limit],
            Some(blob),
        );
        let r = build(
            "http://h",
            &p,
            &args(json!({
                "key": "a b/c?d",
                "meta": {"Color": "red", "Size": 2},
                "extra": {"limit": "ignored", "tag": ["x", "y"], "q": "1&2"},
                "limit": 5,
                "data": "AAEC/w=="
            })),
        )
        .unwrap();
        assert_eq!(
            r.url,
            "http://h/b/a%20b/c%3Fd?x-id=Put&limit=5&tag=x&tag=y&q=1%262"
        );
        assert_eq!(
            r.headers,
            vec![
                ("x-meta-Color".to_string(), "red".to_string()),
                ("x-meta-Size".to_string(), "2".to_string())
            ]
        );
        assert_eq!(
            r.body,
            Some((
                "application/octet-stream".into(),
                Body::Bytes(vec![0, 1, 2, 255])
            ))
        );
        // A greedy label still cannot climb out of the path.
        assert_eq!(
            build("http://h", &p, &args(json!({"key": "a/../admin"}))),
            Err(RequestError::DotSegment("key".into()))
        );
        assert!(matches!(
            build("http://h", &p, &args(json!({"meta": {"Bad Name": "v"}}))),
            Err(RequestError::BadValue { .. })
        ));
        assert!(matches!(
            build("http://h", &p, &args(json!({"meta": "not a map"}))),
            Err(RequestError::BadValue { .. })
        ));
        assert!(matches!(
            build("http://h", &p, &args(json!({"data": "%%%"}))),
            Err(RequestError::BadValue { .. })
        ));
    }
}
