//! The MCP surface: the rmcp handler (`server`) and the HTTP layer in front of it (`http`:
//! Host/Origin checks, inbound auth, mounting rmcp's streamable HTTP service on axum).

pub mod http;
pub mod json_reply;
pub mod list_page;
pub mod server;
pub mod session;
pub mod upstream;
