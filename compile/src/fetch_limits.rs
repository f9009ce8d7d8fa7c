//! Limits for schema documents fetched from `schema.url`. The operator (in a cluster) and the
//! standalone gateway both fetch with these, so a folder of manifests compiles the same in both
//! places; the fetching itself stays in those callers (this crate does no I/O).

use std::time::Duration;

/// Largest schema document fetched from a URL.
pub const MAX_URL_BYTES: usize = 32 << 20;
/// Time limit for one document.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Time limit to connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
