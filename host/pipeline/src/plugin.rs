//! Pipeline plugins on a hub: [`subscribe`] puts a plugin ([`PluginSpec`]) on an
//! [`EventHub`] with the framework's two subscriptions. The protocol itself (the call, the
//! reply, the checks by stage) is `connect_event::pipeline`'s, shared with Rhai's
//! `session.pipeline.plugin` and the native SDK's `Session::pipeline_plugin`; it is
//! re-exported here.

use std::sync::Arc;

use connect_core::{EventHub, PluginTag, SubscribeError, SubscribeOptions};
use connect_event::Event;
use serde_json::{json, Value};

pub use connect_event::pipeline::{
    answer_run, check_result, collected, collected_values, new_plugin_id, reply, PluginCall,
    PluginFailure, PluginSpec, PluginSpecError, CONTEXT_KEYS, EXCEPTION_STATUS, PLUGIN_PRIORITY,
};

use crate::topics;

/// A plugin's function: given the call and the `ftrack.pipeline.run` event itself, its value
/// or why it has none.
pub type PluginFn = Arc<dyn Fn(&PluginCall, &Event) -> Result<Value, PluginFailure> + Send + Sync>;

/// Subscribes the plugin `spec` to `ftrack.pipeline.discover` (answered `true`) and
/// `ftrack.pipeline.run` (answered with [`answer_run`], for the hub's user only) on `hub`,
/// at [`PLUGIN_PRIORITY`], as part of `plugin` (unloaded with it). Returns the two
/// subscriber ids.
pub fn subscribe(
    hub: &EventHub,
    spec: PluginSpec,
    plugin: Option<PluginTag>,
    run: PluginFn,
) -> Result<[String; 2], SubscribeError> {
    let options = || SubscribeOptions {
        priority: PLUGIN_PRIORITY,
        plugin: plugin.clone(),
        ..Default::default()
    };
    let discover = hub.subscribe(
        &spec.expression(topics::DISCOVER_PLUGIN),
        Arc::new(|_: &mut Event| Ok(json!(true))),
        options(),
    )?;
    let plugin_id = new_plugin_id();
    let expression = spec.expression(topics::RUN_PLUGIN);
    let user = hub.identity().username.clone();
    let handler = move |event: &mut Event| {
        Ok(answer_run(&spec, event, &user, &plugin_id, |call| {
            run(call, event)
        }))
    };
    match hub.subscribe(&expression, Arc::new(handler), options()) {
        Ok(run) => Ok([discover, run]),
        Err(err) => {
            let _ = hub.unsubscribe(&discover);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SUCCESS_STATUS;
    use connect_core::HubIdentity;

    fn collector() -> PluginSpec {
        PluginSpec::new("python", "publisher.collector", "paths").unwrap()
    }

    fn run_event(spec: &PluginSpec, method: &str, data: Value) -> Event {
        Event::new(topics::RUN_PLUGIN).with_data(json!({
            "pipeline": {
                "plugin_name": spec.name(), "plugin_type": spec.plugin_type(),
                "method": method, "category": "plugin", "host_type": spec.host_type(),
                "definition": "File Publisher",
            },
            "settings": {"data": data, "options": {"path": "/a.exr"}, "context_data": null},
        }))
    }

    #[test]
    fn a_subscribed_plugin_answers_discover_and_run_as_the_framework() {
        let hub = EventHub::new(HubIdentity::local("alice"));
        let spec = collector();
        subscribe(
            &hub,
            spec.clone(),
            None,
            Arc::new(|call: &PluginCall, _: &Event| match call.method.as_str() {
                "run" => Ok(json!([call.options["path"]])),
                _ => Ok(json!("example/path")),
            }),
        )
        .unwrap();
        let mut discover = Event::new(topics::DISCOVER_PLUGIN).with_data(json!({
            "pipeline": {"plugin_name": "paths", "plugin_type": "publisher.collector",
                         "category": "plugin", "host_type": "python"},
        }));
        assert_eq!(hub.publish(&mut discover), vec![json!(true)]);
        // Another host type is not this plugin's.
        let mut other = discover.clone();
        other.data["pipeline"]["host_type"] = json!("maya");
        assert!(hub.publish(&mut other).is_empty());

        let reply = hub
            .publish(&mut run_event(&spec, "run", json!([])))
            .remove(0);
        assert_eq!(reply["status"], SUCCESS_STATUS);
        assert_eq!(reply["result"], json!({"run": ["/a.exr"]}));
        assert_eq!(reply["message"], "Successfully run :paths");
        assert_eq!(reply["plugin_id"].as_str().unwrap().len(), 32);
        let fetched = hub
            .publish(&mut run_event(&spec, "fetch", json!(null)))
            .remove(0);
        assert_eq!(fetched["result"], json!({"fetch": "example/path"}));
    }
}
