//! Where the gateway's configuration comes from: standalone manifests (a folder of YAML, parsed by
//! `toolyard_compile::manifests`) or, in a cluster, the config objects the operator writes.

pub mod fetch;
#[cfg(feature = "kube")]
pub mod kube;
#[cfg(feature = "kube")]
pub mod report;
pub mod watch;
