//! How the gateway authenticates to backends: a target's credentials with their secrets resolved
//! ([`credentials`]) and OAuth 2.0 client credentials ([`oauth2`]). Credentials that need state (cached tokens) live here, owned by the snapshot's
//! target runtime and carried over across reloads while their settings are unchanged.

pub mod credentials;
pub mod oauth2;
