//! `connect-server`: a local ftrack-compatible server, so that ftrack's own clients (the
//! `ftrack_api` Python package, Connect) and this host work offline against it unchanged.
//!
//! Parts: `schema` (ftrack's entity types, from a schema set this project writes, served by
//! `query_schemas` with the hash the clients compute), `query` (ftrack's query language:
//! parsing), `store` (storage: the only module that knows SQL, behind a narrow interface a
//! PostgreSQL backend could implement too), `api` (a batch of operations), `files` (component
//! files), `hub` (the event hub), `signin` (browser sign-in), `http` (the routes), `server`
//! (the listener).
//!
//! Modules depend on each other in one direction only, from the listener down, each using
//! only modules further along this line: `server`, `http`, `api`, `encode`, `users`,
//! `store`, then the leaves `files`, `hub`, `signin`, `query`, `schema`, `error`.

#![deny(missing_docs)]

pub mod api;
mod encode;
pub mod error;
mod files;
mod http;
mod hub;
pub mod query;
pub mod schema;
pub mod server;
mod signin;
mod store;
pub mod users;

pub use server::{Server, ServerError, ServerOptions, DEFAULT_PORT};
pub use store::{ApiUser, Database, DbError, DATABASE_FILE};
