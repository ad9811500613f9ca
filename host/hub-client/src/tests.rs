//! The client against the project's local ftrack server and its hub, each in a runtime of its
//! own (so the server can be taken down, sockets and all, and brought back).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};

use serde_json::json;

use super::*;
use connect_server::{users, Server, ServerOptions};

/// A server on `listen` over `data`, in a runtime of its own; the runtime (drop it, or shut
/// it down, to take the server away) and its address.
fn server(data: &Path, listen: SocketAddr) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = ServerOptions {
        listen,
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

/// A client whose events arrive on the returned channel.
fn client(url: &str, user: &str, key: ApiKey) -> (HubClient, Receiver<Event>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let on_event: OnEvent = Arc::new(move |event| {
        let _ = lock(&tx).send(event);
    });
    (HubClient::start(url, user, key, on_event), rx)
}

fn next(rx: &Receiver<Event>, topic: &str) -> Event {
    loop {
        let event = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no {topic} event"));
        if event.topic == topic {
            return event;
        }
    }
}

#[test]
fn events_and_replies_go_both_ways() {
    let data = tempfile::tempdir().unwrap();
    let (alice, bob) = (key(data.path(), "alice"), key(data.path(), "bob"));
    let (_server, address) = server(data.path(), "127.0.0.1:0".parse().unwrap());
    let url = format!("http://{address}");
    let clients = tokio::runtime::Runtime::new().unwrap();
    let _guard = clients.enter();
    let (a, _a_events) = client(&url, "alice", alice);
    let (b, b_events) = client(&url, "bob", bob);
    clients.block_on(async {
        assert!(
            a.wait_connected(Duration::from_secs(10)).await,
            "{}",
            a.state()
        );
        assert!(
            b.wait_connected(Duration::from_secs(10)).await,
            "{}",
            b.state()
        );
        b.subscribe("topic=demo.ping", Map::new());
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let (replies_tx, replies) = channel();
    let replies_tx = Mutex::new(replies_tx);
    let on_reply: OnReply = Box::new(move |event| {
        let _ = lock(&replies_tx).send(event);
    });
    let ping = Event::new("demo.ping").with_data(json!({"n": 1}));
    clients.block_on(a.publish(ping, Some(on_reply))).unwrap();
    let received = next(&b_events, "demo.ping");
    assert_eq!(received.data["n"], 1);
    assert_eq!(
        received.source.get("id").and_then(Value::as_str),
        Some(a.id())
    );
    clients
        .block_on(b.reply(&received, json!({"pong": 1})))
        .unwrap();
    let reply = replies
        .recv_timeout(Duration::from_secs(10))
        .expect("a reply");
    assert_eq!(reply.data, json!({"pong": 1}));
}

#[test]
fn it_reconnects_by_itself_and_subscribes_again() {
    let data = tempfile::tempdir().unwrap();
    let (alice, bob) = (key(data.path(), "alice"), key(data.path(), "bob"));
    let (first, address) = server(data.path(), "127.0.0.1:0".parse().unwrap());
    let url = format!("http://{address}");
    let clients = tokio::runtime::Runtime::new().unwrap();
    let _guard = clients.enter();
    let (listener, events) = client(&url, "alice", alice);
    clients.block_on(async {
        assert!(listener.wait_connected(Duration::from_secs(10)).await);
        listener.subscribe("topic=demo.after", Map::new());
    });
    // The server goes away, sockets and all.
    first.shutdown_background();
    let gone = clients.block_on(async {
        let mut state = listener.state.clone();
        let waited = tokio::time::timeout(
            Duration::from_secs(40),
            state.wait_for(|s| matches!(s, HubState::Disconnected(_))),
        )
        .await;
        waited.is_ok_and(|r| r.is_ok())
    });
    assert!(gone, "{}", listener.state());
    let refused = clients.block_on(listener.publish(Event::new("demo.lost"), None));
    assert!(
        matches!(refused, Err(HubError::NotConnected(_))),
        "{refused:?}"
    );
    // It comes back on the same address: the client finds it and subscribes again.
    let (_second, _) = server(data.path(), address);
    let (publisher, _) = client(&url, "bob", bob);
    clients.block_on(async {
        assert!(
            listener.wait_connected(Duration::from_secs(20)).await,
            "{}",
            listener.state()
        );
        assert!(publisher.wait_connected(Duration::from_secs(10)).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        publisher
            .publish(Event::new("demo.after"), None)
            .await
            .unwrap();
    });
    next(&events, "demo.after");
}

#[test]
fn removed_and_changed_subscriptions_reach_the_server() {
    let data = tempfile::tempdir().unwrap();
    let (alice, bob) = (key(data.path(), "alice"), key(data.path(), "bob"));
    let (_server, address) = server(data.path(), "127.0.0.1:0".parse().unwrap());
    let url = format!("http://{address}");
    let clients = tokio::runtime::Runtime::new().unwrap();
    let _guard = clients.enter();
    let (listener, events) = client(&url, "alice", alice);
    let (publisher, _) = client(&url, "bob", bob);
    let publish = |topic: &str| {
        clients.block_on(async {
            // Acknowledged by the server once routed: what reached the listener is queued.
            publisher.publish(Event::new(topic), None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        })
    };
    let heard = || {
        let mut topics = Vec::new();
        while let Ok(event) = events.try_recv() {
            topics.push(event.topic);
        }
        topics
    };
    clients.block_on(async {
        assert!(listener.wait_connected(Duration::from_secs(10)).await);
        assert!(publisher.wait_connected(Duration::from_secs(10)).await);
    });
    let mut metadata = Map::new();
    metadata.insert("id".into(), json!("s1"));
    listener.subscribe("topic=demo.x", metadata.clone());
    std::thread::sleep(Duration::from_millis(300));
    publish("demo.x");
    assert_eq!(heard(), vec!["demo.x"]);

    // The same subscriber id, another expression: the old one goes.
    listener.subscribe("topic=demo.y", metadata);
    std::thread::sleep(Duration::from_millis(300));
    publish("demo.x");
    publish("demo.y");
    assert_eq!(heard(), vec!["demo.y"]);

    listener.unsubscribe("s1");
    std::thread::sleep(Duration::from_millis(300));
    publish("demo.y");
    assert_eq!(heard(), Vec::<String>::new());
}
