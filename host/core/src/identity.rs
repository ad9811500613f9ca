//! Who the host acts for. The types only: reading them from Connect's `credentials.json` or
//! the environment is the command line's job. The API key is held in [`ApiKey`], whose
//! `Debug` never shows it, so it cannot reach a log.

use std::fmt;

use serde::Deserialize;

/// An ftrack API key. Printing it shows `***`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key itself, for the few places that must send it (child process environments).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Who the host acts for: the ftrack user, the server, and the key when signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The ftrack user name (or the OS user when nobody signed in).
    pub api_user: String,
    /// The ftrack server, empty when none is configured.
    pub server_url: String,
    /// The API key of a sign-in.
    pub api_key: Option<ApiKey>,
    /// Whether the user came from a sign-in (`credentials.json`).
    pub signed_in: bool,
}

impl ApiKey {
    /// A key read from somewhere other than `credentials.json` (a sign-in, a test).
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
}
