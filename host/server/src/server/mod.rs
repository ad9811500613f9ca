//! Running the server: binding the listener (loopback unless asked otherwise), serving until
//! the shutdown signal, then finishing the requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::serve::ListenerExt;

use crate::api::Api;
use crate::http;
use crate::store::{Database, DbError};

#[cfg(test)]
mod tests;

/// The port the server listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8431;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The address to listen on (port 0: the OS picks one).
    pub listen: SocketAddr,
    /// The data folder: the database and component files.
    pub data: PathBuf,
    /// Listening on an address other than loopback is refused unless this is set.
    pub allow_remote: bool,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Not loopback, and not allowed.
    #[error(
        "{0} is not a loopback address: the server would be reachable from other machines; \
         pass --allow-remote if that is what you want"
    )]
    NotLoopback(SocketAddr),
    /// The address is taken or not ours.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A server bound to its address, ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    address: SocketAddr,
}

impl Server {
    /// Opens the data folder and binds the listener.
    pub async fn bind(options: &ServerOptions) -> Result<Server, ServerError> {
        if !options.listen.ip().is_loopback() {
            if !options.allow_remote {
                return Err(ServerError::NotLoopback(options.listen));
            }
            tracing::warn!(
                "listening on {}: other machines can reach this server (API keys travel in \
                 clear over plain HTTP)",
                options.listen
            );
        }
        let db = Database::open(&options.data)?;
        tracing::info!("server data in {}", options.data.display());
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServerError::Bind {
                address: options.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| ServerError::Bind {
            address: options.listen,
            source,
        })?;
        let api = Arc::new(Api::new(
            db,
            options.data.clone(),
            format!("http://{address}"),
        )?);
        Ok(Server {
            listener,
            api,
            address,
        })
    }

    /// The address it listens on (with the port the OS picked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves until `shutdown` completes, then lets the requests in flight finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = http::router(self.api);
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        // Without TCP_NODELAY an event and its ack, two small writes, wait for the client's
        // delayed ACK: 40 ms per round trip for the Python client.
        let listener = self.listener.tap_io(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {err}");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
