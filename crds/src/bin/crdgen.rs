//! Writes the generated artifacts (CRD YAML, gateway-config JSON Schema) into the repository.
//! Run from anywhere: `cargo run -p toolyard-crds --bin crdgen`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let artifacts = match toolyard_crds::generate::artifacts() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crdgen: failed to render the CRDs as YAML: {e}");
            return ExitCode::FAILURE;
        }
    };
    for artifact in artifacts {
        let path = root.join(artifact.path);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            eprintln!("crdgen: failed to create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        if let Err(e) = std::fs::write(&path, artifact.contents) {
            eprintln!("crdgen: failed to write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", artifact.path);
    }
    ExitCode::SUCCESS
}
