use std::collections::BTreeMap;
use toolyard_gateway::compile::openapi::{compile, OpenApiInput};

#[test]
#[ignore]
fn scratch() {
    let path = std::env::var("SPEC").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let vars = BTreeMap::new();
    let t = std::time::Instant::now();
    let api = compile(&OpenApiInput { document: &text, base_url: Some("https://x.test"), server_variables: &vars }).unwrap();
    eprintln!("compile {:?}", t.elapsed());
    let mut sizes: Vec<(usize, usize, String)> = api.tools.tools.iter().map(|t| (t.input_schema.to_string().len(), t.output_schema.as_ref().map_or(0, |o| o.to_string().len()), t.name.clone())).collect();
    let total_in: usize = sizes.iter().map(|s| s.0).sum();
    let total_out: usize = sizes.iter().map(|s| s.1).sum();
    eprintln!("tools {} total input {} output {}", sizes.len(), total_in, total_out);
    sizes.sort();
    for s in sizes.iter().rev().take(8) { eprintln!("{:?}", s); }
    sizes.sort_by_key(|s| s.1);
    for s in sizes.iter().rev().take(5) { eprintln!("{:?}", s); }
    if let Ok(name) = std::env::var("TOOL") {
        let t = api.tools.tools.iter().find(|t| t.name == name).unwrap();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"input": t.input_schema, "output": t.output_schema, "call": t.call, "title": t.title, "description": t.description})).unwrap());
    }
}
