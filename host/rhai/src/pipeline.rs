//! `session.pipeline`: pipeline plugins (ftrack's pipeline framework) written in Rhai.
//!
//! ```text
//! session.pipeline.plugin(plugin_type, name, callback)             for the python host type
//! session.pipeline.plugin(host_type, plugin_type, name, callback)
//! ```
//!
//! The callback is a handler: it gets the `ftrack.pipeline.run` event, the call in
//! `event.data.settings` (`data`, `options`, `context_data`) and the method in
//! `event.data.pipeline.method` (`run`, or another such as `fetch`), and returns its value.
//! `connect_event::pipeline` does the rest, as the framework's plugin base classes do: the
//! discover answer, the reply with its status and timing, the check of a `run` value by
//! stage (a validator returns `true`, a collector a list...), and for validators and
//! exporters `settings.data` holding their step's collector results. An error the callback
//! throws is the plugin's `EXCEPTION_STATUS`, with the file and line.

use super::*;
use connect_event::pipeline::{
    answer_run, new_plugin_id, PluginFailure, PluginSpec, DISCOVER_PLUGIN, PLUGIN_PRIORITY,
    RUN_PLUGIN, STANDALONE_HOST_TYPE,
};

/// `session.pipeline`: what pipeline plugins register through.
#[derive(Clone)]
pub(crate) struct ScriptPipeline {
    pub(crate) hub: ScriptHub,
}

impl ScriptPipeline {
    /// Subscribes the plugin `name` of `plugin_type` for `host_type`, run by `callback`.
    fn plugin(
        &self,
        host_type: &str,
        plugin_type: &str,
        name: &str,
        callback: FnPtr,
    ) -> RhaiResult<()> {
        let (hub, hook) = self.hub.parts()?;
        let spec = PluginSpec::new(host_type, plugin_type, name)
            .or_else(|err| runtime_error(err.to_string()))?;
        let options = || SubscribeOptions {
            priority: PLUGIN_PRIORITY,
            plugin: Some(hook.plugin.clone()),
            ..Default::default()
        };
        let subscribe = |topic: &str, handler: Arc<dyn Handler>| {
            hub.subscribe(&spec.expression(topic), handler, options())
                .or_else(|err| runtime_error(err.to_string()))
        };
        subscribe(
            DISCOVER_PLUGIN,
            Arc::new(|_: &mut Event| Ok(Value::Bool(true))),
        )?;
        let handler = ScriptHandler::new(hook.clone(), callback);
        let plugin_id = new_plugin_id();
        let run_spec = spec.clone();
        let user = hub.identity().username.clone();
        let answer = move |event: &mut Event| {
            Ok(answer_run(&run_spec, event, &user, &plugin_id, |call| {
                // The callback sees the call as the plugin base classes give it.
                let mut event = event.clone();
                event.data["settings"]["data"] = call.data.clone();
                call_once(&handler, &mut event)
                    .map(Reply::into_json)
                    .map_err(|err| PluginFailure::Failed(err.0))
            }))
        };
        subscribe(RUN_PLUGIN, Arc::new(answer))?;
        Ok(())
    }
}

pub(crate) fn register_pipeline_api(engine: &mut ApiModule<'_>) {
    engine
        .register_type_with_name::<ScriptPipeline>("Pipeline")
        .register_fn(
            "plugin",
            |p: ScriptPipeline, plugin_type: &str, name: &str, callback: FnPtr| {
                p.plugin(STANDALONE_HOST_TYPE, plugin_type, name, callback)
            },
        )
        .register_fn(
            "plugin",
            |p: ScriptPipeline, host_type: &str, plugin_type: &str, name: &str, callback: FnPtr| {
                p.plugin(host_type, plugin_type, name, callback)
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::HubIdentity;
    use serde_json::json;

    fn run_event(plugin_type: &str, name: &str, settings: Value) -> Event {
        Event::new("ftrack.pipeline.run").with_data(json!({
            "pipeline": {
                "plugin_name": name, "plugin_type": plugin_type, "method": "run",
                "category": "plugin", "host_type": "python", "definition": "File Publisher",
            },
            "settings": settings,
        }))
    }

    #[test]
    fn rhai_pipeline_plugins_answer_as_the_frameworks() {
        let source = r#"
            fn register(session) {
                session.pipeline.plugin("publisher.collector", "paths", |event| {
                    [event.data.settings.options.path]
                });
                session.pipeline.plugin("publisher.validator", "exists", |event| {
                    let found = [];
                    for collector in event.data.settings.data { found += collector.result; }
                    found.len() == 1 && found[0] != "/missing.exr"
                });
                session.pipeline.plugin("maya", "publisher.exporter", "broken", |event| {
                    throw "no exporter today";
                });
            }"#;
        let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
        let tag = PluginTag::new("pipeline-test");
        let folders = PluginFolders {
            root: PathBuf::from("/nowhere"),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(&tag, &folders));
        let hook = Arc::new(
            CompiledHook::compile_source(engine, tag.clone(), "hook.rhai", source).unwrap(),
        );
        hook.register(&hub, &SessionInfo::default()).unwrap();
        // Two subscriptions a plugin, as the framework's.
        assert_eq!(hub.subscription_count(&tag), 6);

        let collect = run_event(
            "publisher.collector",
            "paths",
            json!({"data": [], "options": {"path": "/a.exr"}, "context_data": null}),
        );
        let reply = hub.publish(&mut collect.clone()).remove(0);
        assert_eq!(reply["status"], "SUCCESS_STATUS", "{reply}");
        assert_eq!(reply["result"], json!({"run": ["/a.exr"]}));

        let steps = |path: &str| {
            json!([{"name": "main", "type": "component", "result": [
                {"name": "collector", "type": "collector", "result": [
                    {"name": "paths", "result": [path]}]}]}])
        };
        let validate = |path: &str| {
            run_event(
                "publisher.validator",
                "exists",
                json!({"data": steps(path), "options": {}, "context_data": null}),
            )
        };
        let ok = hub.publish(&mut validate("/a.exr")).remove(0);
        assert_eq!(ok["result"], json!({"run": true}), "{ok}");
        let refused = hub.publish(&mut validate("/missing.exr")).remove(0);
        assert_eq!(refused["status"], "ERROR_STATUS");
        assert_eq!(refused["message"], "Return value of exists is not True");

        let mut broken = run_event("publisher.exporter", "broken", json!({"data": []}));
        broken.data["pipeline"]["host_type"] = json!("maya");
        let failed = hub.publish(&mut broken).remove(0);
        assert_eq!(failed["status"], "EXCEPTION_STATUS");
        let message = failed["message"].as_str().unwrap();
        assert!(
            message.contains("no exporter today") && message.contains("hook.rhai:12"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_plugin_type_stops_register_where_it_is_called() {
        let source =
            "fn register(session) {\n    session.pipeline.plugin(\"collector\", \"c\", |e| 1);\n}";
        let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
        let tag = PluginTag::new("bad");
        let folders = PluginFolders {
            root: PathBuf::from("/nowhere"),
            library_dirs: Vec::new(),
        };
        let engine = Arc::new(plugin_engine(&tag, &folders));
        let hook =
            Arc::new(CompiledHook::compile_source(engine, tag, "hook.rhai", source).unwrap());
        let err = hook.register(&hub, &SessionInfo::default()).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("<engine>.<stage>") && err.contains("hook.rhai:2"),
            "{err}"
        );
    }
}
