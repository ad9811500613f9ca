//! What the server-API tests of `connect-native` and `connect-isolate` share (included by both
//! with `#[path]`): the fixture plugin's library, built once, and a fake server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use connect_plugins::{ServerApi, ServerApiError};
use serde_json::{json, Value};

/// The fixture plugin's library, built once per test run (in a target folder of its own:
/// the one running this test is locked by cargo).
pub fn fixture() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"))
            .join("native-test-builds");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .current_dir(&workspace)
            .args(["build", "--quiet", "--locked", "--target-dir"])
            .arg(&target)
            .args(["-p", "fixture-server-api"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building fixture-server-api failed");
        target.join("debug").join(format!(
            "{}fixture_server_api{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ))
    })
}

/// What the fake server says of anything about the entity type `Nope`.
pub const REFUSED: &str = "Server reported error: ValueError(Unknown entity type 'Nope')";

/// A fake server: records what it is sent, answers queries from its two tasks.
#[derive(Default)]
pub struct FakeServer {
    /// The query expressions, in order.
    pub queries: Mutex<Vec<String>>,
    /// The batches of operations, in order.
    pub batches: Mutex<Vec<Vec<Value>>>,
}

impl ServerApi for FakeServer {
    fn call(&self, operations: Vec<Value>) -> Result<Vec<Value>, ServerApiError> {
        self.batches.lock().unwrap().push(operations.clone());
        if operations.iter().any(|op| op["entity_type"] == "Nope") {
            return Err(ServerApiError(REFUSED.into()));
        }
        Ok(operations
            .iter()
            .map(|op| json!({"action": op["action"], "data": op["entity_data"]}))
            .collect())
    }

    fn query(&self, expression: &str) -> Result<Vec<Value>, ServerApiError> {
        self.queries.lock().unwrap().push(expression.to_string());
        if expression.starts_with("Nope") {
            return Err(ServerApiError(REFUSED.into()));
        }
        let tasks = [("t1", "comp"), ("t2", "light")]
            .map(|(id, name)| json!({"__entity_type__": "Task", "id": id, "name": name}));
        Ok(tasks
            .into_iter()
            .filter(|task| {
                let id = task["id"].as_str().unwrap();
                !expression.contains("where id is") || expression.contains(&format!("\"{id}\""))
            })
            .collect())
    }

    fn server_url(&self) -> &str {
        "https://studio.ftrackapp.com"
    }

    fn api_user(&self) -> &str {
        "alice"
    }
}

/// What the fixture does with the fake server, in process or isolated alike: a query, a get,
/// a get of nothing, a create and its commit; the created Note's id.
pub fn reads_and_a_create(
    server: &FakeServer,
    publish: &dyn Fn(&str, Value) -> Vec<Value>,
) -> String {
    let found = publish("fixture.api.query", json!({"expression": "Task"}));
    assert_eq!(found[0]["result"][1]["name"], "light", "{found:?}");
    let got = publish(
        "fixture.api.get",
        json!({"entity_type": "Task", "id": "t1"}),
    );
    assert_eq!(got[0]["result"]["name"], "comp", "{got:?}");
    let missing = publish("fixture.api.get", json!({"entity_type": "Task", "id": "x"}));
    assert_eq!(missing, vec![json!({"result": null})]);
    assert_eq!(
        *server.queries.lock().unwrap(),
        [
            "Task",
            r#"Task where id is "t1""#,
            r#"Task where id is "x""#
        ]
    );

    let created = publish(
        "fixture.api.create",
        json!({"entity_type": "Note", "data": {"content": "hi"}}),
    );
    let created = &created[0]["result"];
    assert_eq!(created["created"]["__entity_type__"], "Note", "{created}");
    let id = created["created"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["committed"][0]["data"]["id"], id.as_str());
    id
}
