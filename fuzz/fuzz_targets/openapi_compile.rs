//! Arbitrary text as an OpenAPI 3.x / Swagger 2.0 document (JSON or YAML) through the compiler.
//! Beyond "no panic": every compiled call plan must survive the JSON round trip the operator's
//! ConfigMap puts it through (a plan that does not would be config lost between operator and
//! gateway).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use toolyard_crds::config::CallPlan;
use toolyard_compile::openapi::{OpenApiError, OpenApiInput, compile};

fuzz_target!(|data: &[u8]| {
    let Ok(document) = std::str::from_utf8(data) else {
        return;
    };
    let variables = BTreeMap::from([("region".to_string(), "eu".to_string())]);
    let mut input = OpenApiInput {
        document,
        base_url: None,
        server_variables: &variables,
    };
    let compiled = match compile(&input) {
        Err(OpenApiError::NoBaseUrl { .. } | OpenApiError::ServerVariable { .. }) => {
            // Most fuzzed documents have no usable server: compile the operations anyway, as a
            // target with spec.openApi.baseUrl would.
            input.base_url = Some("https://api.example.com/v1");
            compile(&input)
        }
        other => other,
    };
    let Ok(compiled) = compiled else {
        return;
    };
    assert!(!compiled.base_url.ends_with('/') || compiled.base_url.ends_with("://"));
    for tool in &compiled.tools.tools {
        let json = serde_json::to_string(&tool.call).expect("a call plan serializes");
        let back: CallPlan = serde_json::from_str(&json).expect("a call plan deserializes");
        assert_eq!(back, tool.call, "call plan changed in the JSON round trip: {json}");
        serde_json::to_string(&tool.input_schema).expect("the input schema serializes");
    }
});
