//! `connect-server`: a local ftrack-compatible server, so that ftrack's own clients (the
//! `ftrack_api` Python package, Connect) and this host work offline against it unchanged.
//!
//! Parts: `schema` (ftrack's entity types, from a schema set this project writes, served by
//! `query_schemas` with the hash the clients compute), `query` (ftrack's query language:
//! parsing), storage on SQLite, and the HTTP API.

#![deny(missing_docs)]

pub mod api;
pub mod db;
mod encode;
pub mod error;
mod files;
mod http;
mod hub;
pub mod query;
pub mod schema;
mod seed;
pub mod server;
mod signin;
mod store;
pub mod users;

pub use server::{Server, ServerError, ServerOptions, DEFAULT_PORT};
