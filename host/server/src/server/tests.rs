//! The server through its sockets: the hub's reply times in `GET /status`, subscribers taken
//! over by a client back on a new connection.
//!
//! The clients are written here over plain TCP (the server crate has no websocket client):
//! the Socket.IO handshake, the websocket upgrade, masked text frames out, frames in.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{users, Database, Server, ServerOptions};

/// One plain HTTP/1.1 exchange: the body.
async fn http_get(address: SocketAddr, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap().to_string()
}

/// A server on a new data folder with the users `names` (their keys, in order), serving in the
/// background; the folder (kept while it lives) and the address.
async fn serve(names: &[&str]) -> (tempfile::TempDir, SocketAddr, Vec<String>) {
    let data = tempfile::tempdir().unwrap();
    let keys = {
        let db = Database::open(data.path()).unwrap();
        names
            .iter()
            .map(|name| users::add(&db, name).unwrap())
            .collect()
    };
    let server = Server::bind(&ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: data.path().to_path_buf(),
        allow_remote: false,
    })
    .await
    .unwrap();
    let address = server.address();
    tokio::spawn(server.run(std::future::pending()));
    (data, address, keys)
}

/// A Socket.IO 0.9 client on a websocket.
struct Client {
    stream: TcpStream,
}

impl Client {
    async fn connect(address: SocketAddr, user: &str, key: &str) -> Client {
        let headers = format!("ftrack-user: {user}\r\nftrack-api-key: {key}\r\n");
        let answer = http_get(address, "/socket.io/1/", &headers).await;
        let sid = answer.split(':').next().unwrap();
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let upgrade = format!(
            "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(upgrade.as_bytes()).await.unwrap();
        // The answer's head, byte by byte: the frames that follow are not read here.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let mut client = Client { stream };
        assert_eq!(client.recv().await, "1::");
        client
    }

    /// Sends a text frame (masked, as a client must; the mask is zero).
    async fn send(&mut self, text: &str) {
        let mut frame = vec![0x81u8];
        let len = text.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(text.as_bytes());
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next text frame.
    async fn recv(&mut self) -> String {
        loop {
            let opcode = self.stream.read_u8().await.unwrap() & 0x0f;
            let len = match self.stream.read_u8().await.unwrap() & 0x7f {
                126 => u64::from(self.stream.read_u16().await.unwrap()),
                127 => self.stream.read_u64().await.unwrap(),
                len => u64::from(len),
            };
            let mut payload = vec![0; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            if opcode == 1 {
                return String::from_utf8(payload).unwrap();
            }
        }
    }

    async fn emit(&mut self, event: Value) {
        let packet = json!({"name": "ftrack.event", "args": [event]});
        self.send(&format!("5:::{packet}")).await;
    }
}

/// The `reply_micros` of `user`'s connection, once `count` events were answered (or 10 s).
async fn reply_micros(address: SocketAddr, key: &str, user: &str, count: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = format!("/status?api_user=publisher&api_key={key}");
        let status: Value = serde_json::from_str(&http_get(address, &path, "").await).unwrap();
        let queues = status["hub"]["queues"].as_array().unwrap().clone();
        let figures = queues
            .iter()
            .find(|q| q["user"] == user)
            .map(|q| q["reply_micros"].clone())
            .unwrap_or(Value::Null);
        if figures["count"].as_u64() >= Some(count) || Instant::now() > deadline {
            return figures;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_each_connections_time_to_its_last_reply() {
    let (_data, address, keys) = serve(&["responder", "publisher"]).await;
    let (responder_key, publisher_key) = (keys[0].clone(), keys[1].clone());

    let mut responder = Client::connect(address, "responder", &responder_key).await;
    responder
        .emit(json!({
            "topic": "ftrack.meta.subscribe",
            "data": {"subscriber": {"id": "responder-1"}, "subscription": "topic=bench.ask"},
        }))
        .await;
    let mut publisher = Client::connect(address, "publisher", &publisher_key).await;
    // Each event is answered twice, 5 ms and 40 ms after it arrives: the last reply counts.
    let answering = tokio::spawn(async move {
        for _ in 0..4 {
            let frame = responder.recv().await;
            let Some(packet) = frame.strip_prefix("5:::") else {
                continue;
            };
            let packet: Value = serde_json::from_str(packet).unwrap();
            let event = &packet["args"][0];
            for pause in [5, 35] {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                responder
                    .emit(json!({
                        "topic": "ftrack.meta.reply",
                        "inReplyToEvent": event["id"],
                        "target": "id=nobody",
                        "data": {"pause": pause},
                    }))
                    .await;
            }
        }
        responder
    });
    // The first reply turns the timing on: the three after it are timed.
    for n in 0..4 {
        publisher
            .emit(json!({"topic": "bench.ask", "id": format!("ask-{n}"), "data": {}}))
            .await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let _responder = answering.await.unwrap();

    let figures = reply_micros(address, &publisher_key, "responder", 3).await;
    assert_eq!(figures["count"], 3, "{figures}");
    let (p50, p99) = (
        figures["p50"].as_u64().unwrap(),
        figures["p99"].as_u64().unwrap(),
    );
    assert!(p50 >= 40_000, "the last reply came 40 ms after: {figures}");
    assert!(p99 >= p50 && p99 < 5_000_000, "{figures}");
    // The publisher was sent nothing to answer.
    let publisher_figures = reply_micros(address, &publisher_key, "publisher", 0).await;
    assert_eq!(publisher_figures["count"], 0, "{publisher_figures}");
    assert!(publisher_figures["p50"].is_null());
}

/// Subscribes `id` on `client` with an ack; the ack's text.
async fn subscribe_acked(client: &mut Client, id: &str, ack: u64) -> String {
    let event = json!({
        "topic": "ftrack.meta.subscribe",
        "data": {"subscriber": {"id": id}, "subscription": "topic=demo.ping"},
    });
    let packet = json!({"name": "ftrack.event", "args": [event]});
    client.send(&format!("5:{ack}+::{packet}")).await;
    loop {
        let frame = client.recv().await;
        if frame.starts_with(&format!("6:::{ack}+")) {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_back_on_a_new_connection_takes_its_subscribers_over_another_user_cannot() {
    let (_data, address, keys) = serve(&["alice", "bob"]).await;
    let (alice_key, bob_key) = (keys[0].clone(), keys[1].clone());

    // Alice's first connection stays open (half-open, as after a laptop slept).
    let mut first = Client::connect(address, "alice", &alice_key).await;
    assert!(subscribe_acked(&mut first, "alice-hub", 1)
        .await
        .contains("true"));
    let mut second = Client::connect(address, "alice", &alice_key).await;
    let taken = subscribe_acked(&mut second, "alice-hub", 1).await;
    assert!(taken.contains("true"), "{taken}");
    let mut bob = Client::connect(address, "bob", &bob_key).await;
    let refused = subscribe_acked(&mut bob, "alice-hub", 1).await;
    assert!(refused.contains("another connection"), "{refused}");

    // Events for the subscriber now reach the new connection.
    bob.emit(json!({"topic": "demo.ping", "id": "ping-1", "data": {}}))
        .await;
    let delivered = loop {
        let frame = second.recv().await;
        if frame.starts_with("5:::") {
            break frame;
        }
    };
    assert!(delivered.contains("ping-1"), "{delivered}");
}
