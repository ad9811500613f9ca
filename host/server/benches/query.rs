//! What a query costs as the database grows: the tasks of one project (100 of them) among
//! 1,000 and among 100,000 tasks, through `Api::run` in process and through HTTP (`POST /api`
//! on a running server, a plain HTTP/1.1 request over loopback). The goal: among 100,000 at
//! most twice the cost among 1,000 (indexes, not scans).
//!
//! Run: `cargo bench -p connect-server --bench query`

use std::io::{Read, Write};
use std::net::TcpStream;

use connect_server::api::Api;
use connect_server::Database;
use connect_server::{users, Server, ServerOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::{json, Value};

/// A database with `total` tasks, 100 of them in the project it returns the id of.
fn populate(dir: &std::path::Path, total: usize) -> String {
    let db = Database::open(dir).unwrap();
    let api = Api::new(db, dir.to_path_buf(), "http://bench".into()).unwrap();
    let schema = run(
        &api,
        json!([{"action": "query", "expression": "select id from ProjectSchema"}]),
    )[0]["data"][0]["id"]
        .clone();
    let mut target = String::new();
    let projects = total / 100;
    for p in 0..projects {
        let project = run(
            &api,
            json!([{"action": "create", "entity_type": "Project", "entity_data": {
            "name": format!("p{p}"), "full_name": format!("P{p}"),
            "project_schema": {"__entity_type__": "ProjectSchema", "id": schema}}}]),
        )[0]["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let tasks: Vec<Value> = (0..100)
            .map(|t| {
                json!({"action": "create", "entity_type": "Task", "entity_data": {
                "name": format!("t{t}"), "parent": {"__entity_type__": "Project", "id": project}}})
            })
            .collect();
        run(&api, Value::Array(tasks));
        if p == projects / 2 {
            target = project;
        }
    }
    target
}

fn run(api: &Api, operations: Value) -> Vec<Value> {
    let Value::Array(operations) = operations else {
        unreachable!()
    };
    api.run("bench", operations).unwrap()
}

fn http_post(address: &str, user: &str, key: &str, body: &str) -> usize {
    let mut stream = TcpStream::connect(address).unwrap();
    let request = format!(
        "POST /api HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         ftrack-user: {user}\r\nftrack-api-key: {key}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    response.len()
}

fn tasks_of_one_project(c: &mut Criterion) {
    let mut group = c.benchmark_group("tasks-of-one-project");
    group.sample_size(30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for total in [1_000usize, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let project = populate(dir.path(), total);
        let expression = format!("select name from Task where project.id is \"{project}\"");
        let db = Database::open(dir.path()).unwrap();
        let key = users::add(&db, "bench").unwrap();
        let api = Api::new(db, dir.path().to_path_buf(), "http://bench".into()).unwrap();
        let query = json!([{"action": "query", "expression": expression}]);
        assert_eq!(
            run(&api, query.clone())[0]["data"]
                .as_array()
                .unwrap()
                .len(),
            100
        );
        group.bench_with_input(BenchmarkId::new("in-process", total), &query, |b, query| {
            b.iter(|| run(&api, query.clone()).len())
        });
        drop(api);

        let options = ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            data: dir.path().to_path_buf(),
            allow_remote: false,
        };
        let server = runtime.block_on(Server::bind(&options)).unwrap();
        let address = server.address().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = runtime.spawn(server.run(async {
            let _ = stopped.await;
        }));
        let body = query.to_string();
        assert!(http_post(&address, "bench", &key, &body) > 1000);
        group.bench_with_input(BenchmarkId::new("http", total), &body, |b, body| {
            b.iter(|| http_post(&address, "bench", &key, body))
        });
        let _ = stop.send(());
        let _ = runtime.block_on(serving);
    }
    group.finish();
}

criterion_group!(benches, tasks_of_one_project);
criterion_main!(benches);
