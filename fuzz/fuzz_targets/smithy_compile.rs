//! Arbitrary text as a Smithy JSON AST model through the Smithy compiler, with and without an
//! endpoint override. Every compiled call plan must survive the JSON round trip of the ConfigMap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolyard_crds::config::CallPlan;
use toolyard_compile::smithy::{SmithyInput, compile};

fuzz_target!(|data: &[u8]| {
    let Ok(document) = std::str::from_utf8(data) else {
        return;
    };
    let mut input = SmithyInput {
        document,
        service: None,
        region: Some("us-east-1"),
        endpoint: None,
    };
    let compiled = match compile(&input) {
        Ok(c) => c,
        Err(_) => {
            input.endpoint = Some("https://service.example.com/");
            match compile(&input) {
                Ok(c) => c,
                Err(_) => return,
            }
        }
    };
    for tool in &compiled.tools.tools {
        let json = serde_json::to_string(&tool.call).expect("a call plan serializes");
        let back: CallPlan = serde_json::from_str(&json).expect("a call plan deserializes");
        assert_eq!(back, tool.call, "call plan changed in the JSON round trip: {json}");
    }
});
