//! The committed CRD YAML and config JSON Schema must be exactly what `crdgen` writes, so nobody
//! edits generated files by hand and nobody forgets to regenerate after changing the types.

use std::path::Path;

#[test]
fn committed_artifacts_match_the_generator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stale = Vec::new();
    for artifact in toolyard_crds::generate::artifacts().expect("render artifacts") {
        let on_disk = std::fs::read_to_string(root.join(artifact.path)).unwrap_or_default();
        if on_disk != artifact.contents {
            stale.push(artifact.path);
        }
    }
    assert!(
        stale.is_empty(),
        "generated files differ from the Rust types: {stale:?}\nrun `cargo run -p toolyard-crds --bin crdgen` and commit the result"
    );
}

#[test]
fn every_crd_field_has_a_description() {
    // `kubectl explain` shows these; an undocumented field is a bug.
    fn walk(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, sub) in props {
                let here = format!("{path}.{name}");
                let is_k8s_type = path.contains(".conditions")
                    || path.contains(".resources")
                    || path.contains(".tolerations")
                    || name == "metadata"
                    || name == "apiVersion"
                    || name == "kind"
                    || path.contains(".lastSynchronized");
                if sub.get("description").is_none() && !is_k8s_type {
                    missing.push(here.clone());
                }
                walk(&here, sub, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    use kube::CustomResourceExt;
    let mut missing = Vec::new();
    for crd in [
        toolyard_crds::Gateway::crd(),
        toolyard_crds::GatewayTarget::crd(),
    ] {
        let v = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        walk(&crd.spec.names.kind, &v["openAPIV3Schema"], &mut missing);
    }
    assert!(
        missing.is_empty(),
        "fields without a doc comment: {missing:#?}"
    );
}
