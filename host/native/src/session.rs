//! The session a native plugin's `register` gets: subscribe, unsubscribe, publish, the user,
//! the server.

use super::*;

/// The session a native plugin gets: the hub, weakly (the plugin may keep the session).
#[derive(Clone)]
pub(crate) struct NativeSession {
    pub(crate) hub: Weak<EventHub>,
    pub(crate) plugin: PluginTag,
    pub(crate) info: SessionInfo,
    /// The plugin's session with the server; `None` when the host has none.
    pub(crate) api: Option<ApiSession>,
}

impl NativeSession {
    fn hub(&self) -> Result<Arc<EventHub>, RString> {
        self.hub
            .upgrade()
            .ok_or_else(|| RString::from("the host is shutting down"))
    }
}

/// Runs `f`, turning a panic into an error: host code called from a plugin must not unwind
/// into it (abi_stable aborts the process when a panic crosses the boundary). For every
/// `HostSession` implementation, this crate's and the isolated child's.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, RString>) -> RResult<T, RString> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(_) => RErr(RString::from("the host failed while handling this call")),
    }
}

impl HostSession for NativeSession {
    fn subscribe(
        &self,
        expression: RStr<'_>,
        priority: i64,
        handler: EventHandlerBox,
    ) -> RResult<RString, RString> {
        guarded(|| {
            let options = SubscribeOptions {
                priority,
                plugin: Some(self.plugin.clone()),
                ..Default::default()
            };
            self.hub()?
                .subscribe(
                    expression.as_str(),
                    Arc::new(NativeHandler(handler)),
                    options,
                )
                .map(RString::from)
                .map_err(|e| e.to_string().into())
        })
    }

    fn unsubscribe(&self, id: RStr<'_>) -> RResult<(), RString> {
        guarded(|| {
            self.hub()?
                .unsubscribe(id.as_str())
                .map_err(|e| e.to_string().into())
        })
    }

    fn publish(&self, event: RStr<'_>) -> RResult<PublishOutcome, RString> {
        guarded(|| {
            let mut event: Event = serde_json::from_str(event.as_str())
                .map_err(|e| RString::from(format!("invalid event: {e}")))?;
            let results = self.hub()?.publish_replies(&mut event);
            let results = serde_json::to_string(&results)
                .map_err(|e| RString::from(format!("results are not JSON: {e}")))?;
            Ok(PublishOutcome {
                results: results.into(),
                data: event.data.to_string().into(),
            })
        })
    }

    fn api_user(&self) -> RString {
        self.info.api_user.as_str().into()
    }

    fn server_url(&self) -> RString {
        self.info.server_url.as_str().into()
    }

    fn api(&self, request: RStr<'_>) -> RResult<RString, RString> {
        guarded(|| {
            api_call(&self.plugin.name, self.api.as_ref(), request.as_str())
                .map(RString::from)
                .map_err(RString::from)
        })
    }
}
