//! The server's API as hooks call it: blocking, bounded in time, the key kept inside.
//!
//! Hooks are synchronous (Rhai has no async, native handlers return a value), so each call
//! blocks its handler's thread on the link's runtime until the server answers. Handlers run
//! on the host's own threads, never on the runtime's workers: a call made from a worker would
//! stall every connection the runtime serves, so it is refused instead.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use connect_ftrack_api::{Client, ClientError};
use connect_plugins::{ServerApi, ServerApiError};
use serde_json::Value;

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
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(ServerApiError(
                "the ftrack API cannot be called from an async task (call it from a handler)"
                    .into(),
            ));
        }
        self.runtime
            .block_on(async { tokio::time::timeout(HOOK_CALL_TIMEOUT, call).await })
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
