//! Toolyard's API: the `Gateway` and `GatewayTarget` custom resources (group `toolyard.dev`,
//! version `v1alpha1`) and the compiled gateway config handed from the operator to the gateway.
//!
//! This crate holds types only (serde + schemars + kube's derive), so every other crate and the
//! generators can depend on it without pulling in a runtime.

pub mod config;
pub mod gateway;
pub mod generate;
pub mod policy;
pub mod reference;
pub mod refs;
mod schema;
pub mod served;
pub mod shards;
pub mod target;

pub use config::{CONFIG_VERSION, GatewayConfig};
pub use gateway::{Gateway, GatewaySpec, GatewayStatus};
pub use policy::{ToolPolicy, ToolPolicySpec, ToolPolicyStatus};
pub use target::{GatewayTarget, GatewayTargetSpec, GatewayTargetStatus};

/// The API group of both CRDs.
pub const GROUP: &str = "toolyard.dev";
