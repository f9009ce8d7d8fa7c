//! Toolyard's operator: reconciles each Gateway and its GatewayTargets into a compiled gateway
//! config and the Kubernetes objects that serve it. See [`controller`] for the pipeline.
//!
//! `dereference` and `controller` talk to the API; `render` and `status` are pure and unit-tested
//! from YAML fixtures.

pub mod admin;
pub mod auth_delegator;
pub mod controller;
pub mod dereference;
pub mod leader;
pub mod render;
pub mod status;
pub mod sync;
