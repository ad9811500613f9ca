//! What a host's answer to a definition run says ([`RunOutcome`]).

use serde_json::Value;

use crate::engine::ERROR_STATUS;

/// What a host's answer to a definition run says.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Every stage succeeded: the finalizers' group results (the framework's return value).
    Done(Value),
    /// A plugin failed, or the host refused: the host's error reply (`message`, and for a
    /// plugin `plugin_name`, `plugin_type`, `plugin_status`, `plugin_message`, `group`,
    /// `step`, `stage`).
    Failed(Value),
}

impl RunOutcome {
    /// Reads the host's reply to `ftrack.pipeline.host.run` for a definition.
    pub fn from_reply(reply: Value) -> RunOutcome {
        if reply.is_array() {
            return RunOutcome::Done(reply);
        }
        if reply["status"] == ERROR_STATUS || !reply.is_object() {
            return RunOutcome::Failed(reply);
        }
        RunOutcome::Done(reply)
    }

    /// The finalizer plugins' results of a run that was done (`{asset_version_id, ...}` for
    /// a publish), in order.
    pub fn finalizer_results(&self) -> Vec<&Value> {
        let RunOutcome::Done(steps) = self else {
            return Vec::new();
        };
        steps
            .as_array()
            .into_iter()
            .flatten()
            .filter(|step| step["type"] == "finalizer")
            .filter_map(|step| step["result"].as_array())
            .flatten()
            .filter(|stage| stage["type"] == "finalizer" || stage["name"] == "finalizer")
            .filter_map(|stage| stage["result"].as_array())
            .flatten()
            .map(|plugin| &plugin["result"])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_outcomes_tell_a_failure_from_the_results() {
        let done = RunOutcome::from_reply(json!([
            {"name": "main", "type": "finalizer", "result": [
                {"name": "finalizer", "type": "finalizer", "result": [
                    {"name": "fin", "result": {"asset_version_id": "v1"}}]}]}]));
        assert_eq!(
            done.finalizer_results(),
            vec![&json!({"asset_version_id": "v1"})]
        );
        let failed = RunOutcome::from_reply(json!({"status": "ERROR_STATUS", "message": "no"}));
        assert!(matches!(failed, RunOutcome::Failed(_)));
        assert!(failed.finalizer_results().is_empty());
    }
}
