//! HTTP: the conditional-request decision, the request handler, the server and its TLS.

pub mod access_log;
pub mod admin;
pub mod conditional;
pub mod operations;
pub mod polite;
pub mod protocol;
pub mod routes;
pub mod server;
pub mod stream;
pub mod tls;
