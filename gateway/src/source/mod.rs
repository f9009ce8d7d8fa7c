//! Where the gateway's configuration comes from: standalone manifests (a folder of YAML) or, in a
//! cluster, the config objects the operator writes.

pub mod manifests;
#[cfg(feature = "server")]
pub mod watch;
#[cfg(feature = "kube")]
pub mod kube;
