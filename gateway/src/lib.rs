//! Toolyard's data plane. `compile` is the pure library shared with the operator and `source`
//! reads standalone manifests; everything else is the server (behind the `server` feature).

pub mod compile;
pub mod search;
pub mod source;

#[cfg(feature = "server")]
pub mod admin;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod aws;
#[cfg(feature = "server")]
pub mod invoke;
#[cfg(feature = "server")]
pub mod logging;
#[cfg(feature = "server")]
pub mod mcp;
#[cfg(feature = "server")]
pub mod outbound;
#[cfg(feature = "server")]
pub mod runtime;
#[cfg(feature = "server")]
pub mod telemetry;
#[cfg(feature = "server")]
pub mod upstream;
