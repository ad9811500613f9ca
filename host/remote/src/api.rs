//! The server's API as hooks call it: blocking, bounded in time, the key kept inside.
//!
//! Hooks are synchronous (Rhai has no async, native handlers return a value), so each call
//! runs on the link's runtime while the handler's thread waits for its answer. Handlers run
//! on the host's own threads or on the thread of the event hub's connection (a runtime of its
//! own, which waits with them); the link's runtime, where the call runs, is never the one
//! waiting.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use connect_ftrack_api::{Client, ClientError};
use connect_plugins::{ServerApi, ServerApiError};
use serde_json::Value;
use tokio::runtime::RuntimeFlavor;

/// How long one call from a hook may take, all pages of a query included.
pub const HOOK_CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct BlockingApi {
    runtime: tokio::runtime::Handle,
    client: Arc<Client>,
}

impl BlockingApi {
    pub(crate) fn new(runtime: tokio::runtime::Handle, client: Arc<Client>) -> BlockingApi {
        BlockingApi { runtime, client }
    }

    /// Runs `call` on the link's runtime and waits for it on this thread, whatever thread
    /// this is: the host's own, the event hub connection's (another runtime's), or a worker
    /// of the link's runtime (which first hands its other tasks to another thread).
    fn block<T: Send + 'static>(
        &self,
        call: impl Future<Output = Result<T, ClientError>> + Send + 'static,
    ) -> Result<T, ServerApiError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = answer.send(tokio::time::timeout(HOOK_CALL_TIMEOUT, call).await);
        });
        let wait = || answered.recv();
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        answer
            .map_err(|_| ServerApiError("the host is shutting down".into()))?
            .map_err(|_| {
                ServerApiError(format!(
                    "the ftrack server at {} did not answer within {} s",
                    self.client.server_url(),
                    HOOK_CALL_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|err| ServerApiError(err.to_string()))
    }
}

impl ServerApi for BlockingApi {
    fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ServerApiError> {
        let client = self.client.clone();
        self.block(async move { client.call(operations).await })
    }

    fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
        let (client, expression) = (self.client.clone(), expression.to_string());
        self.block(async move { client.query(&expression).await })
    }

    fn server_url(&self) -> &str {
        self.client.server_url()
    }

    fn api_user(&self) -> &str {
        self.client.api_user()
    }
}
