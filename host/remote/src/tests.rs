//! The link against the project's local ftrack server: a hub linked through it answers another
//! client's event, hooks' API calls reach the server, a refused key is said and unlinked.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::channel;

use connect_core::{HubIdentity, SubscribeOptions};
use connect_server::{users, Server, ServerOptions};
use serde_json::json;

use super::*;

fn server(data: &Path) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: data.to_path_buf(),
        allow_remote: false,
    };
    let server = runtime.block_on(Server::bind(&options)).unwrap();
    let address = server.address();
    runtime.spawn(server.run(std::future::pending()));
    (runtime, address)
}

fn key(data: &Path, user: &str) -> ApiKey {
    let db = connect_server::Database::open(data).unwrap();
    ApiKey::new(users::add(&db, user).unwrap())
}

fn linked_hub(link: &Arc<ServerLink>) -> Arc<EventHub> {
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    hub.subscribe(
        "topic=demo.ask",
        Arc::new(|event: &mut Event| Ok(json!({"answer": event.data["n"]}))),
        SubscribeOptions::default(),
    )
    .unwrap();
    link.attach(&hub);
    assert!(
        link.wait_connected(Duration::from_secs(10)),
        "{}",
        link.state()
    );
    hub
}

#[test]
fn a_linked_hub_answers_another_clients_event_and_hooks_reach_the_api() {
    let data = tempfile::tempdir().unwrap();
    let (alice, bob) = (key(data.path(), "alice"), key(data.path(), "bob"));
    let (_server, address) = server(data.path());
    let url = format!("http://{address}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let link = ServerLink::new(runtime.handle().clone(), &url, "alice", alice).unwrap();
    let hub = linked_hub(&link);
    let queue = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            hub.run_queue(&|| false);
        })
    };
    drop(queue);

    // Bob, another client of the server, asks; the linked hub's handler answers him.
    let (tx, replies) = channel();
    let bob = {
        let _runtime = runtime.enter();
        HubClient::start(&url, "bob", bob, Arc::new(|_| {}))
    };
    runtime.block_on(async {
        assert!(bob.wait_connected(Duration::from_secs(10)).await);
        // The link registers its subscriptions as it connects; give the server a moment.
        let tx = Mutex::new(tx);
        let mut answered = None;
        for _ in 0..50 {
            let event = Event::new("demo.ask").with_data(json!({"n": 7}));
            let tx = Mutex::new(lock(&tx).clone());
            bob.publish(
                event,
                Some(Box::new(move |reply| {
                    let _ = lock(&tx).send(reply.data);
                })),
            )
            .await
            .unwrap();
            if let Ok(reply) =
                tokio::task::block_in_place(|| replies.recv_timeout(Duration::from_millis(200)))
            {
                answered = Some(reply);
                break;
            }
        }
        assert_eq!(answered, Some(json!({"answer": 7})));
    });

    // The API, as a hook calls it: from a thread of its own, blocking.
    let api = link.api();
    let found = std::thread::spawn(move || api.query("select username from User"))
        .join()
        .unwrap()
        .unwrap();
    assert!(
        found.iter().any(|user| user["username"] == "alice"),
        "{found:?}"
    );
    // From a worker of the link's runtime (several threads) it works: the worker's other
    // tasks move elsewhere while it waits.
    let api = link.api();
    let found = runtime
        .block_on(async move { tokio::spawn(async move { api.query("User") }).await })
        .unwrap()
        .unwrap();
    assert!(!found.is_empty());
    // From another single-threaded runtime (as the event hub's connection thread is): that
    // runtime waits, the link's does the work.
    let api = link.api();
    let single = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(!single
        .block_on(async move { api.query("User") })
        .unwrap()
        .is_empty());
}

#[test]
fn a_refused_key_is_said_and_the_hub_unlinked() {
    let data = tempfile::tempdir().unwrap();
    let _alice = key(data.path(), "alice");
    let (_server, address) = server(data.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("http://{address}");
    let link = ServerLink::new(
        runtime.handle().clone(),
        &url,
        "alice",
        ApiKey::new("wrong"),
    )
    .unwrap();
    let hub = Arc::new(EventHub::new(HubIdentity::local("alice")));
    link.attach(&hub);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !matches!(link.state(), LinkState::Refused(_)) {
        assert!(std::time::Instant::now() < deadline, "{}", link.state());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!link.state().to_string().contains("wrong"));
}
