//! The serving state: an immutable [`Snapshot`] built from a compiled config, swapped atomically
//! on reload. A request loads the current snapshot once and uses it to the end, so in-flight calls
//! finish on the config they started with while new requests see the new one.

pub mod authz;
pub mod endpoint;
pub mod listed;
pub mod reload;
pub mod search;
pub mod served_schema;
pub mod snapshot;

pub use reload::{ReloadError, ReloadStatus, Runtime};
pub use snapshot::{Found, Snapshot, TargetRuntime};
