//! The local server's event hub under load: N websocket clients (100, 1,000, 5,000) each with
//! 10 subscriptions on topics of their own, plus one receiver subscribed to `bench.target`;
//! a publisher sends events on `bench.target`. Measured: the delivery latency from the
//! publisher's send to the receiver's read (p50, p99), the events per second the server
//! routes (sending as fast as acks come back), and the server's memory per idle connection
//! (its resident size before and after the clients connect). The server is the release
//! `ftrack-connect server`, in a process of its own; the benchmark raises its own open-files
//! limit.
//!
//! One core: the server process is pinned to CPU 0 (so its runtime, which sizes itself by
//! the CPUs it may use, runs one worker thread) and the clients to the other CPUs, so the
//! two do not share a core. Throughput is given both as events per second of wall time and
//! as events per CPU-second the server process used during the burst (user + system time,
//! from `/proc/<pid>/stat`): the second is what one core sustains, whatever the clients cost.
//!
//! Run: `cargo bench -p ftrack-connect --bench hub` (prints a table; not a criterion bench:
//! latency distributions and memory are the figures here). `BENCH_CLIENTS=100,1000` chooses
//! the sizes, `BENCH_BURST` the events of the throughput burst (default 50,000).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_ftrack-connect");

fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// Pins the calling thread, and the threads it starts from now on, to `cpus`.
fn pin(cpus: &[usize]) -> std::io::Result<()> {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPU time process `pid` has used so far (user and system, all its threads, the ended
/// ones included), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (in parentheses, which may hold spaces): state is the
    // first, utime and stime the 12th and 13th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    fields.iter().sum::<u64>() as f64 / ticks_per_second
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `GET /socket.io/1/` with the key: the session id.
fn handshake(address: &str, key: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /socket.io/1/?api_user=bench&api_key={key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    body.split(':').next().unwrap().to_string()
}

fn subscribe_packet(n: u64, subscriber: &str, subscription: &str) -> String {
    let event = serde_json::json!({
        "id": format!("s{n}"), "topic": "ftrack.meta.subscribe", "target": "",
        "source": {"id": subscriber, "user": {"username": "bench"}},
        "data": {"subscriber": {"id": subscriber}, "subscription": subscription},
    });
    format!(
        "5:{n}+::{}",
        serde_json::json!({"name": "ftrack.event", "args": [event]})
    )
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(address: &str, key: &str) -> Socket {
    let sid = {
        let (address, key) = (address.to_string(), key.to_string());
        tokio::task::spawn_blocking(move || handshake(&address, &key))
            .await
            .unwrap()
    };
    let (socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{address}/socket.io/1/websocket/{sid}"))
            .await
            .unwrap();
    socket
}

/// Subscribes `topics` and waits for the acks.
async fn subscribe(socket: &mut Socket, name: &str, topics: &[String]) {
    for (n, topic) in topics.iter().enumerate() {
        let packet = subscribe_packet(
            n as u64 + 1,
            &format!("{name}-{n}"),
            &format!("topic={topic}"),
        );
        socket.send(Message::Text(packet.into())).await.unwrap();
    }
    let mut acked = 0;
    while acked < topics.len() {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            if text.starts_with("6:::") {
                acked += 1;
            }
        }
    }
}

fn main() {
    raise_open_files_limit();
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().display().to_string();
    let added = Command::new(BIN)
        .args(["server", "user", "add", "bench", "--data", &data_arg])
        .output()
        .unwrap();
    let key = String::from_utf8(added.stdout)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut server = Command::new(BIN);
    if cpus > 1 {
        // Safety: only sched_setaffinity, a system call, runs between fork and exec.
        unsafe {
            server.pre_exec(|| pin(&[0]));
        }
        pin(&(1..cpus).collect::<Vec<_>>()).expect("the benchmark pins itself off CPU 0");
        eprintln!(
            "server pinned to CPU 0, the clients to CPUs 1..{}",
            cpus - 1
        );
    } else {
        eprintln!("one CPU: server and clients share it (the per-CPU-second figure still holds)");
    }
    let mut server = server
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &data_arg,
            "-v",
            "warning",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(data.path().join("server.log")).unwrap())
        .spawn()
        .unwrap();
    eprintln!("server log: {}", data.path().join("server.log").display());
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_string();
    let pid = server.id();
    eprintln!("server at {address}, key {key}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let burst: u64 = std::env::var("BENCH_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    println!(
        "clients | RSS per idle connection | delivery p50 | delivery p99 | routed events/s \
         (wall) | server CPU | events per server CPU-second"
    );
    runtime.block_on(async {
        let mut idle: Vec<Socket> = Vec::new();
        let sizes: Vec<usize> = std::env::var("BENCH_CLIENTS")
            .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_else(|_| vec![100, 1_000, 5_000]);
        for clients in sizes {
            let before = resident_kib(pid);
            let added = clients - idle.len();
            for c in idle.len()..clients {
                let mut socket = connect(&address, &key).await;
                let topics: Vec<String> = (0..10).map(|k| format!("bench.c{c}.t{k}")).collect();
                subscribe(&mut socket, &format!("c{c}"), &topics).await;
                idle.push(socket);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let per_connection = (resident_kib(pid).saturating_sub(before)) as f64 / added as f64;
            // Idle clients must read (heartbeats), or the server drops them as slow.
            let drained: Vec<Socket> = std::mem::take(&mut idle);
            let mut drains = Vec::new();
            for mut socket in drained {
                drains.push(tokio::spawn(async move {
                    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
                    let handle = tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                _ = &mut rx => break,
                                next = socket.next() => if next.is_none() { break },
                            }
                        }
                        socket
                    });
                    (tx, handle)
                }));
            }
            let mut receiver = connect(&address, &key).await;
            subscribe(&mut receiver, "receiver", &["bench.target".to_string()]).await;
            let mut publisher = connect(&address, &key).await;
            let _ = publisher.next().await; // 1::
            let _ = receiver.next().await;
            let mut latencies = Vec::new();
            let rounds = 2_000;
            let started = Instant::now();
            for n in 0..rounds {
                let event = serde_json::json!({"id": format!("e{n}"), "topic": "bench.target", "target": "",
                    "source": {"id": "publisher", "user": {"username": "bench"}}, "data": {"n": n}});
                let packet = format!("5:{}+::{}", n + 1, serde_json::json!({"name": "ftrack.event", "args": [event]}));
                let sent = Instant::now();
                publisher.send(Message::Text(packet.into())).await.unwrap();
                loop {
                    match receiver.next().await {
                        Some(Ok(Message::Text(text))) if text.starts_with("5:::") => break,
                        Some(Ok(_)) => continue,
                        other => panic!("receiver: {other:?}"),
                    }
                }
                latencies.push(sent.elapsed());
                // The publisher's ack.
                loop {
                    match publisher.next().await {
                        Some(Ok(Message::Text(text))) if text.starts_with("6:::") => break,
                        Some(Ok(_)) => continue,
                        other => panic!("publisher: {other:?}"),
                    }
                }
            }
            let _ = started;
            eprintln!("{clients}: latency rounds done");
            latencies.sort();
            let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
            // Throughput: a burst with up to 1,000 events unacknowledged at a time (a client
            // that lets thousands of acks pile up unread is dropped as slow, by design).
            let window = std::sync::Arc::new(tokio::sync::Semaphore::new(1000));
            let (mut sink, mut acks) = publisher.split();
            let released = window.clone();
            let reading_acks = tokio::spawn(async move {
                let mut seen = 0;
                while seen < burst {
                    match acks.next().await {
                        Some(Ok(Message::Text(text))) if text.starts_with("6:::") => {
                            seen += 1;
                            released.add_permits(1);
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            });
            let started = Instant::now();
            let cpu_before = cpu_seconds(pid);
            let receiving = tokio::spawn(async move {
                let mut got = 0;
                while got < burst {
                    match receiver.next().await {
                        Some(Ok(Message::Text(text))) if text.starts_with("5:::") => got += 1,
                        Some(Ok(_)) => {}
                        other => panic!("receiver: {other:?}"),
                    }
                }
            });
            for n in 0..burst {
                let event = serde_json::json!({"id": format!("b{n}"), "topic": "bench.target", "target": "",
                    "source": {"id": "publisher", "user": {"username": "bench"}}, "data": {"n": n}});
                let packet = format!("5:{}+::{}", n + 10_000, serde_json::json!({"name": "ftrack.event", "args": [event]}));
                window.acquire().await.unwrap().forget();
                sink.send(Message::Text(packet.into())).await.unwrap();
            }
            receiving.await.unwrap();
            let per_second = burst as f64 / started.elapsed().as_secs_f64();
            let _ = reading_acks.await;
            // After the last ack: the server's work for the burst is done.
            let cpu = cpu_seconds(pid) - cpu_before;
            println!(
                "{clients:7} | {per_connection:8.1} KiB | {:9.1} µs | {:9.1} µs | {per_second:9.0} \
                 | {cpu:6.2} s | {:9.0}",
                p(0.5).as_secs_f64() * 1e6,
                p(0.99).as_secs_f64() * 1e6,
                burst as f64 / cpu.max(1e-9),
            );
            for drain in drains {
                let (stop, handle) = drain.await.unwrap();
                let _ = stop.send(());
                idle.push(handle.await.unwrap());
            }
        }
    });
    let _ = server.kill();
    let _ = server.wait();
}
