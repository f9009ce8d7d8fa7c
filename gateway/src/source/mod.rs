//! Where the gateway's configuration comes from: standalone manifests (a folder of YAML) or, in a
//! cluster, the config objects the operator writes.

#[cfg(feature = "kube")]
pub mod kube;
pub mod manifests;
#[cfg(feature = "kube")]
pub mod report;
#[cfg(feature = "server")]
pub mod watch;
