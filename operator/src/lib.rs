//! Toolyard's operator: reconciles each Gateway and its GatewayTargets into a compiled gateway
//! config and the Kubernetes objects that serve it. See [`controller`] for the pipeline.
//!
//! `dereference` and `controller` talk to the API; `render`, `pods`, `status` and `sync` are pure
//! and unit-tested (from YAML fixtures where they take objects).

pub mod admin;
pub mod auth_delegator;
pub mod controller;
pub mod dereference;
pub mod leader;
pub mod pods;
pub mod render;
pub mod status;
pub mod sync;
