//! The hub linked to a server: an uplink that plays the server's part by hand (what it is
//! sent is given back through `receive`, as a server routing to this client would).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::*;
use serde_json::json;

#[derive(Default)]
struct Wire {
    connected: AtomicBool,
    subscribed: Mutex<Vec<(String, String)>>,
    unsubscribed: Mutex<Vec<String>>,
    sent: Mutex<Vec<Event>>,
}

impl Uplink for Wire {
    fn subscribed(&self, expression: &str, subscriber: &Map<String, Value>) {
        let id = subscriber["id"].as_str().unwrap().to_string();
        self.subscribed
            .lock()
            .unwrap()
            .push((id, expression.into()));
    }
    fn unsubscribed(&self, id: &str) {
        self.unsubscribed.lock().unwrap().push(id.into());
    }
    fn forward(&self, event: &Event) -> bool {
        if self.connected.load(Ordering::SeqCst) {
            self.sent.lock().unwrap().push(event.clone());
        }
        self.connected.load(Ordering::SeqCst)
    }
}

impl Wire {
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

/// Plays the server until nothing more is sent: what the hub sent comes back to it, round
/// after round; how many rounds it took (a chain that never ends fails the test).
fn relay(hub: &EventHub, wire: &Wire) -> usize {
    let mut rounds = 0;
    loop {
        let sent = wire.take();
        if sent.is_empty() {
            return rounds;
        }
        for event in sent {
            hub.receive(event);
        }
        hub.drain();
        rounds += 1;
        assert!(rounds < 100, "the chain through the server did not end");
    }
}

fn hub() -> EventHub {
    EventHub::new(HubIdentity {
        id: "hub".into(),
        username: "alice".into(),
        hostname: "box".into(),
    })
}

fn counting(count: Arc<AtomicU64>, value: Value) -> Arc<dyn Handler> {
    Arc::new(move |_: &mut Event| {
        count.fetch_add(1, Ordering::SeqCst);
        Ok(value.clone())
    })
}

#[test]
fn the_uplink_hears_every_subscription_made_before_and_after_and_each_removal() {
    let hub = hub();
    let tag = PluginTag::new("p");
    let options = || SubscribeOptions {
        plugin: Some(tag.clone()),
        ..Default::default()
    };
    let before = hub
        .subscribe("topic=a", counting(Arc::default(), json!(1)), options())
        .unwrap();
    let wire = Arc::new(Wire::default());
    hub.set_uplink(wire.clone());
    let after = hub
        .subscribe(
            "topic=b and data.x=1",
            counting(Arc::default(), json!(1)),
            options(),
        )
        .unwrap();
    let told = wire.subscribed.lock().unwrap().clone();
    assert_eq!(told.len(), 2);
    assert_eq!(told[0], (before.clone(), "topic=a".to_string()));
    assert_eq!(told[1].0, after);
    Expression::parse(&told[1].1).expect("the expression is sent as ftrack's text");
    hub.unsubscribe(&before).unwrap();
    assert_eq!(hub.unsubscribe_plugin(&tag), 1);
    assert_eq!(*wire.unsubscribed.lock().unwrap(), vec![before, after]);
}

#[test]
fn asynchronous_events_go_out_when_connected_and_what_comes_back_is_dispatched_and_answered() {
    let hub = hub();
    let wire = Arc::new(Wire::default());
    hub.set_uplink(wire.clone());
    let count = Arc::new(AtomicU64::new(0));
    hub.subscribe(
        "topic=ask",
        counting(count.clone(), json!("answer")),
        SubscribeOptions::default(),
    )
    .unwrap();

    // Not connected: dispatched here, as without a server.
    hub.publish_async(Event::new("ask"), None);
    hub.drain();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(wire.take().is_empty());

    wire.connected.store(true, Ordering::SeqCst);
    let replies = Arc::new(Mutex::new(Vec::new()));
    let heard = replies.clone();
    hub.publish_async(
        Event::new("ask"),
        Some(Arc::new(move |reply: &Event| {
            heard.lock().unwrap().push(reply.data.clone())
        })),
    );
    hub.drain();
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "sent out, not dispatched here"
    );
    let sent = wire.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].source["id"], "hub");

    // The server routes it back here: dispatched, and the answer goes out as a reply.
    assert!(hub.receive(sent[0].clone()));
    hub.drain();
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let reply = wire.take().pop().expect("the reply went out");
    assert_eq!(reply.topic, "ftrack.meta.reply");
    assert_eq!(reply.target, "id=hub");
    assert_eq!(
        reply.in_reply_to_event.as_deref(),
        Some(sent[0].id.as_str())
    );

    // A reply from another client, and ours, reach the callback; it keeps listening.
    let mut other = reply.clone();
    other.id = "other-reply".into();
    other.data = json!("from elsewhere");
    hub.receive(reply);
    hub.receive(other);
    hub.drain();
    assert_eq!(
        *replies.lock().unwrap(),
        vec![json!("answer"), json!("from elsewhere")]
    );
}

#[test]
fn a_chain_through_the_server_is_bounded_like_a_local_one() {
    let hub = Arc::new(hub());
    let wire = Arc::new(Wire::default());
    wire.connected.store(true, Ordering::SeqCst);
    hub.set_uplink(wire.clone());
    let count = Arc::new(AtomicU64::new(0));
    let (again, seen) = (Arc::downgrade(&hub), count.clone());
    hub.subscribe(
        "topic=loop",
        Arc::new(move |_: &mut Event| {
            seen.fetch_add(1, Ordering::SeqCst);
            let hub = again.upgrade().unwrap();
            hub.publish_async(Event::new("loop"), None);
            Ok(Value::Null)
        }),
        SubscribeOptions::default(),
    )
    .unwrap();
    hub.publish_async(Event::new("loop"), None);
    let rounds = relay(&hub, &wire);
    assert_eq!(rounds, MAX_ASYNC_GENERATIONS as usize + 1);
    assert_eq!(count.load(Ordering::SeqCst), rounds as u64);
}

#[test]
fn what_went_out_is_remembered_within_a_bound_and_replies_not_at_all() {
    let hub = hub();
    let wire = Arc::new(Wire::default());
    wire.connected.store(true, Ordering::SeqCst);
    hub.set_uplink(wire.clone());
    for _ in 0..5000 {
        hub.publish_async(Event::new("out"), None);
    }
    assert_eq!(hub.uplink.remembered(), 4096);
    let first = wire.take().remove(0);
    // The oldest was forgotten: it comes back as a chain of its own, and is dispatched.
    assert!(hub.receive(first));
    let mut reply = Event::new("ftrack.meta.reply");
    reply.in_reply_to_event = Some("x".into());
    hub.publish_async(reply, None);
    assert_eq!(hub.uplink.remembered(), 4096);
}

#[test]
fn an_event_from_the_server_can_be_dispatched_at_once_after_what_waited_before_it() {
    let hub = hub();
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = order.clone();
    hub.subscribe(
        "topic=a or topic=b",
        Arc::new(move |event: &mut Event| {
            seen.lock().unwrap().push(event.topic.clone());
            Ok(Value::Null)
        }),
        SubscribeOptions::default(),
    )
    .unwrap();
    hub.publish_async(Event::new("a"), None);
    assert!(hub.dispatch_received(Event::new("b")));
    assert_eq!(
        *order.lock().unwrap(),
        vec!["a", "b"],
        "dispatched here, in order"
    );
}

#[test]
fn a_reply_callback_that_publishes_again_is_bounded_across_the_server_too() {
    let hub = Arc::new(hub());
    let wire = Arc::new(Wire::default());
    wire.connected.store(true, Ordering::SeqCst);
    hub.set_uplink(wire.clone());
    hub.subscribe(
        "topic=ask",
        counting(Arc::default(), json!("answer")),
        SubscribeOptions::default(),
    )
    .unwrap();
    // The callback asks again on every reply: a loop through the server.
    fn ask(hub: &Arc<EventHub>, count: Arc<AtomicU64>) {
        let again = Arc::downgrade(hub);
        hub.publish_async(
            Event::new("ask"),
            Some(Arc::new(move |_: &Event| {
                count.fetch_add(1, Ordering::SeqCst);
                if let Some(hub) = again.upgrade() {
                    ask(&hub, count.clone());
                }
            })),
        );
    }
    let replies = Arc::new(AtomicU64::new(0));
    ask(&hub, replies.clone());
    relay(&hub, &wire);
    assert!(replies.load(Ordering::SeqCst) <= u64::from(MAX_ASYNC_GENERATIONS));
}

#[test]
fn callbacks_waiting_on_the_server_are_kept_in_their_window_and_dropped_with_the_uplink() {
    let hub = hub();
    let wire = Arc::new(Wire::default());
    wire.connected.store(true, Ordering::SeqCst);
    hub.set_uplink(wire.clone());
    for _ in 0..3000 {
        hub.publish_async(Event::new("out"), Some(Arc::new(|_: &Event| {})));
    }
    // All within their window: all kept (the old sweep scanned them all on every publish).
    assert_eq!(hub.lock_replies().len(), 3000);
    assert_eq!(hub.queue.expiring.lock().unwrap().len(), 3000);
    hub.clear_uplink();
    assert_eq!(hub.lock_replies().len(), 0);
    assert_eq!(hub.queue.expiring.lock().unwrap().len(), 0);
}

#[test]
fn a_handler_answers_a_servers_event_later_from_another_thread() {
    let hub = Arc::new(hub());
    let wire = Arc::new(Wire::default());
    wire.connected.store(true, Ordering::SeqCst);
    hub.set_uplink(wire.clone());
    let (done, finished) = std::sync::mpsc::channel();
    // The worker answers only once the test has seen that the handler's null result sent
    // nothing: otherwise its answer could already be on the wire.
    let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
    let wait_for_go = Arc::new(Mutex::new(Some(wait_for_go)));
    let worker_hub = Arc::downgrade(&hub);
    hub.subscribe(
        "topic=long.work",
        Arc::new(move |event: &mut Event| {
            let (event, done, hub) = (event.clone(), done.clone(), worker_hub.clone());
            let wait_for_go = wait_for_go.lock().unwrap().take();
            std::thread::spawn(move || {
                if let Some(wait_for_go) = wait_for_go {
                    let _ = wait_for_go.recv();
                }
                let hub = hub.upgrade().unwrap();
                let subscriber = Map::from_iter([("id".to_string(), json!("worker"))]);
                done.send(hub.reply_later(&event, &subscriber, json!({"done": true})))
                    .unwrap();
            });
            Ok(Value::Null)
        }),
        SubscribeOptions::default(),
    )
    .unwrap();
    assert!(hub.is_linked());
    let mut asked = Event::new("long.work");
    asked.source = Map::from_iter([("id".to_string(), json!("web-page"))]).into();
    hub.receive(asked.clone());
    hub.drain();
    assert!(wire.take().is_empty(), "a null result sends nothing");
    go.send(()).unwrap();
    assert!(finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the worker answers"));
    let sent = wire.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].topic, topics::META_REPLY);
    assert_eq!(sent[0].target, "id=web-page");
    assert_eq!(sent[0].in_reply_to_event.as_deref(), Some(&*asked.id));
    assert_eq!(sent[0].data, json!({"done": true}));
    assert_eq!(sent[0].source["id"], "worker");
    hub.clear_uplink();
    assert!(!hub.is_linked());
}

#[test]
fn each_publish_waits_its_own_window_for_replies_through_the_server() {
    let hub = hub();
    let wire = Arc::new(Wire::default());
    wire.connected.store(true, Ordering::SeqCst);
    hub.set_uplink(wire.clone());
    let heard = Arc::new(Mutex::new(Vec::new()));
    let callback = |name: &'static str| -> ReplyCallback {
        let heard = heard.clone();
        Arc::new(move |_: &Event| heard.lock().unwrap().push(name))
    };
    let long = Event::new("long");
    let short = Event::new("short");
    let (long_id, short_id) = (long.id.clone(), short.id.clone());
    // The long one first, then one that expires at once: the order they expire in is kept.
    assert!(hub.publish_async_waiting(long, Some(callback("long")), Duration::from_secs(3600)));
    assert!(hub.publish_async_waiting(short, Some(callback("short")), Duration::ZERO));
    std::thread::sleep(Duration::from_millis(5));
    // Another publish forgets what expired.
    assert!(hub.publish_async(Event::new("later"), Some(callback("later"))));
    wire.take();
    for id in [&short_id, &long_id] {
        let mut reply = Event::new(topics::META_REPLY).with_data(json!(1));
        reply.in_reply_to_event = Some(id.to_string());
        reply.target = "id=hub".into();
        hub.receive(reply);
    }
    hub.drain();
    assert_eq!(*heard.lock().unwrap(), ["long"]);
}
