//! The `session` a hook's `register` gets, and its `event_hub`: subscribe, unsubscribe,
//! publish. Its server calls are in `api.rs`.

use super::*;

/// The `session` scripts see. Cheap to clone (a method takes it by value, so that a closure
/// may capture the `session` it is subscribed through); clones share the plugin's pending
/// writes.
#[derive(Clone)]
pub(crate) struct ScriptSession {
    pub(crate) event_hub: ScriptHub,
    pub(crate) api_user: ImmutableString,
    pub(crate) server_url: ImmutableString,
    /// The plugin's session with the server; `None` when the host is not signed in.
    pub(crate) api: Option<ApiSession>,
}

impl ScriptSession {
    /// The session of a hook of the plugin whose server session is `api`: the user and
    /// server are the API's when there is one, else those of `info`.
    pub(crate) fn new(event_hub: ScriptHub, info: &SessionInfo, api: Option<ApiSession>) -> Self {
        let (api_user, server_url) = match &api {
            Some(api) => (api.api_user(), api.server_url()),
            None => (info.api_user.as_str(), info.server_url.as_str()),
        };
        ScriptSession {
            event_hub,
            api_user: api_user.into(),
            server_url: server_url.into(),
            api,
        }
    }
}

#[derive(Clone)]
pub(crate) struct ScriptHub {
    pub(crate) hub: Weak<EventHub>,
    pub(crate) hook: Weak<CompiledHook>,
}

pub(crate) type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub(crate) fn runtime_error<T>(message: impl Into<String>) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(message.into()),
        Position::NONE,
    )))
}

impl ScriptHub {
    pub(crate) fn parts(&self) -> RhaiResult<(Arc<EventHub>, Arc<CompiledHook>)> {
        match (self.hub.upgrade(), self.hook.upgrade()) {
            (Some(hub), Some(hook)) => Ok((hub, hook)),
            _ => runtime_error("this plugin has been unloaded"),
        }
    }

    pub(crate) fn subscribe(
        &self,
        expression: &str,
        callback: FnPtr,
        subscriber: RhaiMap,
        priority: i64,
    ) -> RhaiResult<ImmutableString> {
        let (hub, hook) = self.parts()?;
        let subscriber = match to_json(&Dynamic::from_map(subscriber)) {
            Ok(Value::Object(map)) => map,
            _ => return runtime_error("subscriber metadata must be a map of JSON values"),
        };
        let options = SubscribeOptions {
            subscriber,
            priority,
            plugin: Some(hook.plugin.clone()),
        };
        let handler = Arc::new(ScriptHandler::new(hook, callback));
        match hub.subscribe(expression, handler, options) {
            Ok(id) => Ok(id.into()),
            Err(err) => runtime_error(err.to_string()),
        }
    }

    pub(crate) fn publish(&self, event: Dynamic, synchronous: bool) -> RhaiResult<Dynamic> {
        let (hub, _) = self.parts()?;
        let mut event = event_from_script(event)?;
        if synchronous {
            let results: Array = hub
                .publish_replies(&mut event)
                .into_iter()
                .map(|reply| match reply.downcast::<ScriptValue>() {
                    Ok(value) => value.into_dynamic(),
                    Err(other) => to_dynamic(&other.into_json()),
                })
                .collect();
            Ok(results.into())
        } else {
            hub.publish_async(event, None);
            Ok(Dynamic::UNIT)
        }
    }

    pub(crate) fn publish_with_reply(&self, event: Dynamic, on_reply: FnPtr) -> RhaiResult<()> {
        let (hub, hook) = self.parts()?;
        let event = event_from_script(event)?;
        let plugin = hook.plugin.name.clone();
        let handler = ScriptHandler::new(hook, on_reply);
        hub.publish_async(
            event,
            Some(Arc::new(move |reply: &Event| {
                let mut reply = reply.clone();
                if let Err(err) = call_once(&handler, &mut reply) {
                    tracing::warn!(
                        plugin = &*plugin,
                        "plugin '{plugin}': reply callback failed: {err}"
                    );
                }
            })),
        );
        Ok(())
    }
}

/// Accepts what a script passes as an event: a map shaped like ftrack's event, or an event it
/// received.
pub(crate) fn event_from_script(value: Dynamic) -> RhaiResult<Event> {
    if let Some(event) = value.clone().try_cast::<ScriptEvent>() {
        return event.to_event().or_else(runtime_error);
    }
    let json =
        to_json(&value).map_err(|e| format!("event is not JSON: {}", e.describe("event")))?;
    if !json.is_object() {
        return runtime_error("an event must be a map such as #{topic: \"my.topic\", data: #{}}");
    }
    serde_json::from_value(json).or_else(|e| runtime_error(format!("invalid event: {e}")))
}
