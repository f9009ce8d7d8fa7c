//! Helpers shared by the gateway's in-process integration tests.

use std::path::PathBuf;

/// Writes `yaml` as the only manifest of a new config directory named after the test and `name`
/// (unique per process), the layout the gateway's file source watches.
pub fn config_dir(test: &str, name: &str, yaml: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("toolyard-{test}-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("gateway.yaml"), yaml)?;
    Ok(dir)
}
