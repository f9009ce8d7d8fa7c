//! Toolyard's data plane: the MCP server that serves a compiled gateway config (from the
//! operator's ConfigMap in a cluster, or compiled here from a folder of manifests with
//! `toolyard-compile`) and calls the backends behind its tools.
//!
//! Dependencies point one way, from the request down to plain data:
//!
//! - `mcp` (the MCP endpoint and handler) → `invoke` (one backend call per protocol) →
//!   `runtime` (the served snapshot: plain data with the handles it holds — HTTP clients,
//!   credentials, upstream sessions, call logs) → nothing above it;
//! - below them the parts a snapshot holds: `upstream` (sessions with upstream MCP servers),
//!   `outbound` (outbound credentials), `aws`, `auth` (inbound authentication), `search`;
//! - `logging` and `telemetry` are leaves: everything may use them, they use nothing back;
//! - `source` (where the config comes from) and `admin` feed the runtime from the side; `drain`
//!   (graceful termination) is shared by the admin and MCP routers.
//!
//! This crate must not be a dependency of `toolyard-operator` (`tests/src/layers.rs` checks it);
//! what both need lives in `toolyard-compile` or `toolyard-crds`.

pub mod admin;
pub mod auth;
pub mod aws;
pub mod drain;
pub mod invoke;
pub mod logging;
pub mod mcp;
pub mod memory;
pub mod outbound;
pub mod runtime;
pub mod search;
pub mod source;
pub mod telemetry;
pub mod upstream;
