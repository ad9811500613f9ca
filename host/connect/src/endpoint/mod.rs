//! The resident host's local endpoint: how `event publish`, `plugins`, `actions` and
//! `event watch` reach a running `ftrack-connect run` of the same user.
//!
//! The host listens on loopback only (`127.0.0.1`, a port the OS picks) and writes where and a
//! random token to `endpoint.json` in the user data directory, readable by that user alone
//! (`0600`). Every request must carry the token; anything else is refused. Other local users
//! can reach the port but not read the token, so they cannot use it.
//!
//! - [`protocol`]: the requests and answers, typed on both ends, with the protocol version
//!   every request and answer carries;
//! - [`server`]: the host's side ([`Endpoint`]);
//! - [`client`]: the other commands' side ([`Client`]).

pub mod client;
pub mod protocol;
pub mod server;

pub use client::{Client, ClientError};
pub use server::Endpoint;

use std::path::{Path, PathBuf};

/// The path of the endpoint file in `data_dir`.
pub fn endpoint_path(data_dir: &Path) -> PathBuf {
    data_dir.join("endpoint.json")
}
