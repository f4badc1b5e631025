//! HTTP: the conditional-request decision, the request handler and the server.

pub mod admin;
pub mod conditional;
pub mod routes;
pub mod server;
