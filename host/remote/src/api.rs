//! The server's API as hooks call it: blocking, bounded in time, the key kept inside.
//!
//! Hooks are synchronous (Rhai has no async, native handlers return a value), so each call
//! blocks its handler's thread on the link's runtime until the server answers. Handlers run
//! on the host's own threads, or on a worker of the link's runtime inside `block_in_place`
//! (the worker's other tasks move to another thread first); a call from a single-threaded
//! runtime, which has nowhere to move them, is refused instead of stalling it.

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

    fn block<T>(
        &self,
        call: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ServerApiError> {
        let wait = || {
            self.runtime
                .block_on(async { tokio::time::timeout(HOOK_CALL_TIMEOUT, call).await })
        };
        let answer = match tokio::runtime::Handle::try_current() {
            // A handler run by the hub's own threads.
            Err(_) => wait(),
            // A handler run by a worker of a runtime of several threads (the server link's
            // reader dispatching in place): its other tasks move to another thread meanwhile.
            Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            Ok(_) => {
                return Err(ServerApiError(
                    "the ftrack API cannot be called from a single-threaded async task (call \
                     it from a handler)"
                        .into(),
                ))
            }
        };
        answer
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
        self.block(self.client.call(operations))
    }

    fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
        self.block(self.client.query(expression))
    }

    fn server_url(&self) -> &str {
        self.client.server_url()
    }

    fn api_user(&self) -> &str {
        self.client.api_user()
    }
}
