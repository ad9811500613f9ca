//! A native plugin's calls to the ftrack server: the JSON requests of `HostSession::api`, run
//! on the plugin's [`ApiSession`]. Isolated plugins' requests come here too (the child
//! forwards them to the host, which answers from the plugin's session), so both modes say
//! the same things.

use super::*;

/// The error of every call when the host has no server to ask.
pub use connect_plugins::NOT_CONNECTED as NO_SERVER;

/// One request of `HostSession::api` (`{"call": "query", "expression": ...}`), as the ABI
/// documents it.
#[derive(Debug, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
enum ApiRequest {
    Query {
        expression: String,
    },
    Get {
        entity_type: String,
        id: String,
    },
    Create {
        entity_type: String,
        data: Value,
    },
    Update {
        entity_type: String,
        id: String,
        data: Value,
    },
    Delete {
        entity_type: String,
        id: String,
    },
    Commit,
}

/// Runs one `HostSession::api` request of the plugin `plugin` on its session `api` (`None`:
/// the host is not signed in) and answers the result as JSON text. Every error is one line
/// prefixed with the plugin's name: the server's message, a malformed request, or
/// [`NO_SERVER`].
///
/// Blocks until the server answers or the call times out: callers are handler threads (or
/// the loading thread) where blocking is allowed.
pub fn api_call(plugin: &str, api: Option<&ApiSession>, request: &str) -> Result<String, String> {
    run(api, request).map_err(|err| format!("plugin '{plugin}': {err}"))
}

fn run(api: Option<&ApiSession>, request: &str) -> Result<String, String> {
    let request: ApiRequest =
        serde_json::from_str(request).map_err(|e| format!("not a server API request: {e}"))?;
    let api = api.ok_or(NO_SERVER)?;
    let answer = match request {
        ApiRequest::Query { expression } => Value::Array(api.query(&expression).map_err(text)?),
        ApiRequest::Get { entity_type, id } => api
            .get(&entity_type, &id)
            .map_err(text)?
            .unwrap_or(Value::Null),
        ApiRequest::Create { entity_type, data } => api.create(&entity_type, data).map_err(text)?,
        ApiRequest::Update {
            entity_type,
            id,
            data,
        } => {
            api.update(&entity_type, &id, data).map_err(text)?;
            Value::Null
        }
        ApiRequest::Delete { entity_type, id } => {
            api.delete(&entity_type, &id).map_err(text)?;
            Value::Null
        }
        ApiRequest::Commit => Value::Array(api.commit().map_err(text)?),
    };
    serde_json::to_string(&answer).map_err(|e| format!("the server's answer is not JSON: {e}"))
}

fn text(err: ServerApiError) -> String {
    err.0
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use connect_plugins::ServerApi;
    use serde_json::json;

    use super::*;

    /// A server that records what it is sent, finds one task, and refuses what mentions
    /// `broken`.
    #[derive(Default)]
    struct FakeServer {
        queries: Mutex<Vec<String>>,
        batches: Mutex<Vec<Vec<Value>>>,
    }

    impl ServerApi for FakeServer {
        fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ServerApiError> {
            if operations.iter().any(|o| o.to_string().contains("broken")) {
                return Err(ServerApiError("ServerError: broken data".into()));
            }
            self.batches.lock().unwrap().push(operations.clone());
            Ok(operations
                .iter()
                .map(|o| json!({"data": o["entity_data"]}))
                .collect())
        }
        fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
            self.queries.lock().unwrap().push(expression.to_string());
            if expression.contains("broken") {
                return Err(ServerApiError("ParseError: no attribute broken".into()));
            }
            Ok(vec![
                json!({"__entity_type__": "Task", "id": "t1", "name": "comp"}),
            ])
        }
        fn server_url(&self) -> &str {
            "http://127.0.0.1:1"
        }
        fn api_user(&self) -> &str {
            "alice"
        }
    }

    fn call(api: &ApiSession, request: Value) -> Result<Value, String> {
        api_call("probe", Some(api), &request.to_string())
            .map(|text| serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn requests_run_on_the_plugin_session_and_answer_json() {
        let server = Arc::new(FakeServer::default());
        let api = ApiSession::new(server.clone());
        let found = call(&api, json!({"call": "query", "expression": "Task"})).unwrap();
        assert_eq!(found[0]["name"], "comp");
        let got = call(
            &api,
            json!({"call": "get", "entity_type": "Task", "id": "t1"}),
        )
        .unwrap();
        assert_eq!(got["id"], "t1");
        assert_eq!(
            server.queries.lock().unwrap()[1],
            r#"Task where id is "t1""#
        );

        let created = call(
            &api,
            json!({"call": "create", "entity_type": "Note", "data": {"content": "hi"}}),
        )
        .unwrap();
        assert_eq!(created["__entity_type__"], "Note");
        let id = created["id"].as_str().unwrap();
        let update =
            json!({"call": "update", "entity_type": "Note", "id": id, "data": {"content": "ho"}});
        assert_eq!(call(&api, update).unwrap(), Value::Null);
        let delete = json!({"call": "delete", "entity_type": "Note", "id": id});
        assert_eq!(call(&api, delete).unwrap(), Value::Null);
        assert!(
            server.batches.lock().unwrap().is_empty(),
            "nothing before commit"
        );
        let committed = call(&api, json!({"call": "commit"})).unwrap();
        assert_eq!(committed.as_array().unwrap().len(), 3);
        assert_eq!(committed[0]["data"]["content"], "hi");
        let batches = server.batches.lock().unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0][1]["action"], "update");
    }

    #[test]
    fn errors_carry_the_plugin_name_and_the_server_message() {
        let api = ApiSession::new(Arc::new(FakeServer::default()));
        let err = call(
            &api,
            json!({"call": "query", "expression": "Task where broken"}),
        )
        .unwrap_err();
        assert_eq!(err, "plugin 'probe': ParseError: no attribute broken");
        call(
            &api,
            json!({"call": "create", "entity_type": "Note", "data": {"content": "broken"}}),
        )
        .unwrap();
        let err = call(&api, json!({"call": "commit"})).unwrap_err();
        assert!(
            err.starts_with("plugin 'probe': commit of 1 change(s) failed"),
            "{err}"
        );
        assert!(err.ends_with("ServerError: broken data"), "{err}");

        let err = call(&api, json!({"call": "drop_tables"})).unwrap_err();
        assert!(
            err.starts_with("plugin 'probe': not a server API request"),
            "{err}"
        );
        let err = call(
            &api,
            json!({"call": "get", "entity_type": "Task or 1=1", "id": "x"}),
        )
        .unwrap_err();
        assert!(err.contains("not an entity type name"), "{err}");
    }

    #[test]
    fn without_a_server_every_call_says_how_to_get_one() {
        for request in [
            json!({"call": "query", "expression": "Task"}),
            json!({"call": "commit"}),
        ] {
            let err = api_call("probe", None, &request.to_string()).unwrap_err();
            assert_eq!(err, format!("plugin 'probe': {NO_SERVER}"));
        }
    }
}
