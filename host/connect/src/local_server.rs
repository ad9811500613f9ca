//! The embedded default: when nobody signed in and `FTRACK_SERVER` is not set, `run` serves
//! the local ftrack-compatible server (`connect-server`) in its own process, on loopback, and
//! signs in to it. Hooks then have a server to query and publish through, offline, and
//! Python scripts on this machine can use it too (`ftrack-connect status` says where).
//!
//! Its data is the user data folder's `server` folder, the one `ftrack-connect server` uses,
//! so users added with `ftrack-connect server user add` work against it. The host signs in
//! as the host's user, created on first use; the key it uses is kept in that folder's
//! `host-key` file (`0600`; the server keeps only its hash), and replaced by a new one when
//! it no longer works.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use connect_core::ApiKey;
use connect_server::Database;
use connect_server::{users, Server, ServerOptions, DEFAULT_PORT};

use crate::locations::write_private;

/// The local server running inside this process.
pub struct LocalServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The user the host signs in as.
    pub api_user: String,
    /// That user's key.
    pub api_key: ApiKey,
    /// Its data folder.
    pub data: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
}

impl LocalServer {
    /// Stops serving on `runtime`: no new request, and those in flight (a hook's commit)
    /// finish, for at most 5 s.
    pub fn stop(mut self, runtime: &tokio::runtime::Handle) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            let limit = std::time::Duration::from_secs(5);
            let _ = runtime.block_on(async { tokio::time::timeout(limit, serving).await });
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the local server on `runtime` with its data in `data_dir`'s `server` folder, on
/// port [`DEFAULT_PORT`] when free (else one the OS picks), with `api_user` able to sign in.
pub fn start(
    runtime: &tokio::runtime::Handle,
    data_dir: &Path,
    api_user: &str,
) -> Result<LocalServer, String> {
    let data = data_dir.join("server");
    let api_key = host_key(&data, api_user)?;
    let bind = |port: u16| {
        let options = ServerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            data: data.clone(),
            allow_remote: false,
        };
        runtime.block_on(async move { Server::bind(&options).await })
    };
    let server = match bind(DEFAULT_PORT) {
        Ok(server) => server,
        // Taken (another host, a `ftrack-connect server`): any free port will do.
        Err(connect_server::ServerError::Bind { .. }) => bind(0).map_err(|e| e.to_string())?,
        Err(err) => return Err(err.to_string()),
    };
    let url = server.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime.spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(err) = server.run(shutdown).await {
            tracing::error!("the local ftrack server failed: {err}");
        }
    });
    Ok(LocalServer {
        url,
        api_user: api_user.to_string(),
        api_key,
        data,
        stop: Some(stop),
        serving: Some(serving),
    })
}

/// The key a running host signs in to its local server with, for the same user's commands
/// (`event publish --via-server`).
pub fn kept_key(data_dir: &Path) -> Option<ApiKey> {
    let key = std::fs::read_to_string(data_dir.join("server").join("host-key")).ok()?;
    Some(ApiKey::new(key.trim()))
}

/// The key the host signs in with: the kept one while the server still takes it, else a new
/// one (the user is created if missing).
fn host_key(data: &Path, api_user: &str) -> Result<ApiKey, String> {
    let db = Database::open(data).map_err(|e| e.to_string())?;
    let file = data.join("host-key");
    if let Ok(kept) = std::fs::read_to_string(&file) {
        let kept = kept.trim();
        if users::verify(&db, api_user, kept).map_err(|e| e.to_string())? {
            return Ok(ApiKey::new(kept));
        }
    }
    let key = match users::add_key(&db, api_user, "ftrack-connect run") {
        Ok(Some(key)) => key,
        Ok(None) => users::add(&db, api_user).map_err(|e| e.to_string())?,
        Err(err) => return Err(err.to_string()),
    };
    write_private(&file, key.as_bytes())
        .map_err(|e| format!("cannot keep the host's key in {}: {e}", file.display()))?;
    Ok(ApiKey::new(key))
}
