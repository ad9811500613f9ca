//! The client against the project's local ftrack server, started in this process.

use serde_json::json;

use super::*;
use connect_server::{users, Server, ServerOptions};

/// A local server on a free port with user alice; (its data folder, a client as alice).
async fn server() -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().unwrap();
    let key = {
        let db = connect_server::Database::open(dir.path()).unwrap();
        users::add(&db, "alice").unwrap()
    };
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: dir.path().to_path_buf(),
        allow_remote: false,
    };
    let server = Server::bind(&options).await.unwrap();
    let url = server.url();
    tokio::spawn(server.run(std::future::pending()));
    (dir, Client::new(&url, "alice", ApiKey::new(key)).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_and_writes_through_the_api() {
    let (_dir, client) = server().await;
    assert!(client.server_information().await.unwrap()["schema_hash"].is_string());
    let schema = client.query("select id from ProjectSchema").await.unwrap()[0]["id"].clone();
    let project = client
        .create(
            "Project",
            json!({"name": "p", "full_name": "P", "project_schema": reference("ProjectSchema", schema.as_str().unwrap())}),
        )
        .await
        .unwrap();
    let pid = project["id"].as_str().unwrap().to_string();
    // A batch: a folder and 600 tasks in it, kept together.
    let mut batch = client.batch();
    batch.create(
        "Folder",
        json!({"id": "f-1", "name": "f", "parent": reference("Project", &pid)}),
    );
    for i in 0..600 {
        batch.create(
            "Task",
            json!({"name": format!("t{i:03}"), "parent": reference("Folder", "f-1")}),
        );
    }
    assert_eq!(batch.commit().await.unwrap().len(), 601);
    // Paging: more than one page, each entity once.
    let tasks = client
        .query(&format!(
            "select name from Task where project.id is \"{pid}\""
        ))
        .await
        .unwrap();
    assert_eq!(tasks.len(), 600);
    let mut names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.dedup();
    assert_eq!(names.len(), 600);
    // A query that pages itself is sent as it is.
    let first = client.query("Task offset 0 limit 3").await.unwrap();
    assert_eq!(first.len(), 3);
    let updated = client
        .update("Folder", vec![json!("f-1")], json!({"description": "d"}))
        .await
        .unwrap();
    assert_eq!(updated["description"], "d");
    let task = tasks[0]["id"].clone();
    let dated = client
        .update(
            "Task",
            vec![task],
            json!({"start_date": datetime("2026-12-04T10:00:00")}),
        )
        .await
        .unwrap();
    assert_eq!(dated["start_date"], datetime("2026-12-04T10:00:00"));
    client.delete("Folder", vec![json!("f-1")]).await.unwrap();
    assert!(client.query("Task").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_refusals_arrive_as_they_were_sent() {
    let (_dir, client) = server().await;
    match client.query("select name from Task where (").await {
        Err(ClientError::Server { exception, content }) => {
            assert_eq!(exception, "ServerError");
            assert!(content.contains("column"), "{content}");
        }
        other => panic!("{other:?}"),
    }
    // A failing batch keeps nothing.
    let mut batch = client.batch();
    batch.create("Folder", json!({"name": "kept?"}));
    batch.create("Folder", json!({"name": 5}));
    assert!(matches!(
        batch.commit().await,
        Err(ClientError::Server { .. })
    ));
    assert!(client.query("Folder").await.unwrap().is_empty());
    let stranger = Client::new(client.server_url(), "alice", ApiKey::new("wrong")).unwrap();
    match stranger.server_information().await {
        Err(ClientError::Server { exception, .. }) => {
            assert_eq!(exception, "InvalidCredentialsError")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{client:?}").contains(client.key.expose()),
        "the key never prints"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schemas_are_cached_by_the_servers_hash() {
    let (_dir, client) = server().await;
    let cache = tempfile::tempdir().unwrap();
    let fetched = client.schemas(Some(cache.path())).await.unwrap();
    assert!(fetched.iter().any(|s| s["id"] == "Task"));
    let files: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().to_string_lossy().into_owned();
    let hash = client.server_information().await.unwrap()["schema_hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(name, format!("ftrack_api_schemas_{hash}.json"));
    // From the cache now: an edited file shows it is read (and a broken one is fetched again).
    std::fs::write(files[0].path(), "[{\"id\": \"FromCache\"}]").unwrap();
    let cached = client.schemas(Some(cache.path())).await.unwrap();
    assert_eq!(cached, vec![json!({"id": "FromCache"})]);
    std::fs::write(files[0].path(), "[broken").unwrap();
    assert_eq!(
        client.schemas(Some(cache.path())).await.unwrap().len(),
        fetched.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_said_so_after_the_retries_of_a_read() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(
        &format!("http://127.0.0.1:{port}"),
        "alice",
        ApiKey::new("k"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    match client.server_information().await {
        Err(ClientError::Unreachable { url, .. }) => assert!(url.ends_with("/api")),
        other => panic!("{other:?}"),
    }
    // Three tries, 0.2 s and 0.4 s apart: the read was tried again.
    assert!(started.elapsed() >= std::time::Duration::from_millis(600));
    assert!(matches!(
        Client::new("ftp://x", "a", ApiKey::new("k")),
        Err(ClientError::BadUrl(_))
    ));
}
