use super::*;
use crate::handler::{HandlerCall, HandlerError};
use serde_json::json;

fn hub() -> EventHub {
    EventHub::new(HubIdentity {
        id: "hub".into(),
        username: "alice".into(),
        hostname: "box".into(),
    })
}

fn answer(value: Value) -> Arc<dyn Handler> {
    Arc::new(move |_: &mut Event| Ok(value.clone()))
}

fn with_priority(priority: i64) -> SubscribeOptions {
    SubscribeOptions {
        priority,
        ..Default::default()
    }
}

#[test]
fn priority_then_subscription_order_and_null_results_kept() {
    let hub = hub();
    hub.subscribe("topic=t", answer(json!("late")), with_priority(200))
        .unwrap();
    hub.subscribe("topic=t", answer(json!("first")), with_priority(10))
        .unwrap();
    hub.subscribe("topic=t", answer(Value::Null), with_priority(100))
        .unwrap();
    hub.subscribe("topic=t", answer(json!("second")), with_priority(100))
        .unwrap();
    hub.subscribe("topic=other", answer(json!("no")), with_priority(1))
        .unwrap();
    let results = hub.publish(&mut Event::new("t"));
    assert_eq!(
        results,
        vec![json!("first"), Value::Null, json!("second"), json!("late")]
    );
}

#[test]
fn stop_ends_dispatch_even_after_failure() {
    let hub = hub();
    hub.subscribe(
        "topic=t",
        Arc::new(|e: &mut Event| {
            e.stop();
            Err(HandlerError("boom".into()))
        }),
        with_priority(1),
    )
    .unwrap();
    hub.subscribe("topic=t", answer(json!(2)), with_priority(2))
        .unwrap();
    assert!(hub.publish(&mut Event::new("t")).is_empty());
}

#[test]
fn failing_handler_is_left_out_and_dispatch_goes_on() {
    let hub = hub();
    hub.subscribe(
        "topic=t",
        Arc::new(|_: &mut Event| Err(HandlerError("boom".into()))),
        with_priority(1),
    )
    .unwrap();
    hub.subscribe("topic=t", answer(json!(2)), with_priority(2))
        .unwrap();
    assert_eq!(hub.publish(&mut Event::new("t")), vec![json!(2)]);
}

#[test]
fn data_changes_reach_later_handlers_and_publisher() {
    let hub = hub();
    hub.subscribe(
        "topic=t",
        Arc::new(|e: &mut Event| {
            e.data["n"] = json!(1);
            Ok(Value::Null)
        }),
        with_priority(1),
    )
    .unwrap();
    hub.subscribe(
        "topic=t",
        Arc::new(|e: &mut Event| Ok(e.data["n"].clone())),
        with_priority(2),
    )
    .unwrap();
    let mut event = Event::new("t");
    assert_eq!(hub.publish(&mut event), vec![Value::Null, json!(1)]);
    assert_eq!(event.data, json!({"n": 1}));
}

#[test]
fn source_filled_only_where_missing() {
    let hub = hub();
    let mut event = Event::new("t");
    event
        .source
        .insert("user".into(), json!({"username": "bob"}));
    hub.publish(&mut event);
    assert_eq!(
        Value::Object(event.source.into_map()),
        json!({"user": {"username": "bob"}, "id": "hub", "host": "box"})
    );
}

#[test]
fn target_matches_subscriber_metadata() {
    let hub = hub();
    let mut meta = Map::new();
    meta.insert("id".into(), json!("one"));
    meta.insert("applicationId".into(), json!("maya"));
    hub.subscribe(
        "topic=t",
        answer(json!("maya")),
        SubscribeOptions {
            subscriber: meta,
            ..Default::default()
        },
    )
    .unwrap();
    hub.subscribe("topic=t", answer(json!("any")), Default::default())
        .unwrap();
    let mut event = Event::new("t");
    event.target = "applicationId=maya".into();
    assert_eq!(hub.publish(&mut event), vec![json!("maya")]);
    let mut bad = Event::new("t");
    bad.target = "applicationId=".into();
    assert!(hub.publish(&mut bad).is_empty());
}

#[test]
fn duplicate_and_unknown_subscribers_are_errors() {
    let hub = hub();
    let mut meta = Map::new();
    meta.insert("id".into(), json!("x"));
    let options = SubscribeOptions {
        subscriber: meta,
        ..Default::default()
    };
    hub.subscribe("topic=t", answer(json!(1)), options.clone())
        .unwrap();
    let err = hub
        .subscribe("topic=t", answer(json!(1)), options)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Subscriber with identifier x already exists."
    );
    hub.unsubscribe("x").unwrap();
    assert_eq!(
        hub.unsubscribe("x").unwrap_err().to_string(),
        "missing subscriber with identifier x"
    );
    assert!(hub
        .subscribe("topic=", answer(json!(1)), Default::default())
        .is_err());
}

#[test]
fn reentrant_publish_and_subscribe_during_dispatch() {
    let hub = Arc::new(hub());
    hub.subscribe("topic=inner", answer(json!("inner")), Default::default())
        .unwrap();
    let weak = Arc::downgrade(&hub);
    hub.subscribe(
        "topic=outer",
        Arc::new(move |_: &mut Event| {
            let hub = weak.upgrade().unwrap();
            // Added during the dispatch: must not run in this pass.
            hub.subscribe("topic=outer", answer(json!("new")), with_priority(1000))
                .unwrap();
            Ok(Value::Array(hub.publish(&mut Event::new("inner"))))
        }),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        hub.publish(&mut Event::new("outer")),
        vec![json!(["inner"])]
    );
}

#[test]
fn async_publish_sends_replies_to_on_reply() {
    let hub = hub();
    hub.subscribe("topic=t", answer(json!({"a": 1})), with_priority(1))
        .unwrap();
    hub.subscribe("topic=t", answer(Value::Null), with_priority(2))
        .unwrap();
    hub.subscribe("topic=t", answer(json!("b")), with_priority(3))
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let event = Event::new("t");
    let id = event.id.clone();
    hub.publish_async(
        event,
        Some(Arc::new(move |reply: &Event| {
            sink.lock().unwrap().push(reply.clone())
        })),
    );
    hub.drain();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].data, json!({"a": 1}));
    assert_eq!(seen[1].data, json!("b"));
    assert!(seen
        .iter()
        .all(|r| r.in_reply_to_event.as_deref() == Some(&*id)));
    assert!(seen.iter().all(|r| r.target == "id=hub"));
    assert!(
        hub.lock_replies().is_empty(),
        "reply callbacks are released"
    );
}

/// A handler that reads the event through a shared form, as Rhai and native handlers do:
/// answers with the `data` its form was made from and how many forms were made so far.
struct FormReader(Arc<AtomicU64>);

struct DataForm(Value);

impl Handler for FormReader {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let made = &self.0;
        let (_, form) = call.form(|event| {
            made.fetch_add(1, Ordering::Relaxed);
            DataForm(event.data.clone())
        });
        Ok(json!([form.0, made.load(Ordering::Relaxed)]).into())
    }
}

#[test]
fn forms_are_shared_until_a_handler_may_have_changed_the_event() {
    let hub = hub();
    let made = Arc::new(AtomicU64::new(0));
    let reader = || -> Arc<dyn Handler> { Arc::new(FormReader(made.clone())) };
    hub.subscribe("topic=t", reader(), with_priority(1))
        .unwrap();
    hub.subscribe("topic=t", reader(), with_priority(2))
        .unwrap();
    hub.subscribe(
        "topic=t",
        Arc::new(|e: &mut Event| {
            e.data["n"] = json!(2);
            Ok(Value::Null)
        }),
        with_priority(3),
    )
    .unwrap();
    hub.subscribe("topic=t", reader(), with_priority(4))
        .unwrap();
    let mut event = Event::new("t").with_data(json!({"n": 1}));
    assert_eq!(
        hub.publish(&mut event),
        vec![
            json!([{"n": 1}, 1]),
            json!([{"n": 1}, 1]),
            Value::Null,
            json!([{"n": 2}, 2])
        ]
    );
}

#[test]
fn publishing_in_a_loop_stops_at_the_nesting_limit() {
    let hub = Arc::new(hub());
    let weak = Arc::downgrade(&hub);
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    hub.subscribe(
        "topic=again",
        Arc::new(move |_: &mut Event| {
            counter.fetch_add(1, Ordering::Relaxed);
            let hub = weak.upgrade().unwrap();
            Ok(Value::Array(hub.publish(&mut Event::new("again"))))
        }),
        Default::default(),
    )
    .unwrap();
    hub.publish(&mut Event::new("again"));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        u64::from(MAX_NESTED_DISPATCH)
    );
    // The depth is released: the next publish runs as deep again.
    hub.publish(&mut Event::new("again"));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2 * u64::from(MAX_NESTED_DISPATCH)
    );
}

#[test]
fn the_rest_of_an_expression_is_still_tested_after_the_topic_lookup() {
    let hub = hub();
    hub.subscribe(
        "topic=t and data.x=1",
        answer(json!("x is 1")),
        Default::default(),
    )
    .unwrap();
    hub.subscribe("topic=t", answer(json!("any t")), Default::default())
        .unwrap();
    hub.subscribe(
        "data.x=1 and topic=u",
        answer(json!("u")),
        Default::default(),
    )
    .unwrap();
    // Values are text: ftrack compares `data.x=1` as a string, so a number 1 never matches.
    let publish =
        |topic: &str, x: &str| hub.publish(&mut Event::new(topic).with_data(json!({"x": x})));
    assert_eq!(publish("t", "1"), vec![json!("x is 1"), json!("any t")]);
    assert_eq!(publish("t", "2"), vec![json!("any t")]);
    assert_eq!(publish("u", "1"), vec![json!("u")]);
    assert!(publish("u", "2").is_empty());
    assert!(publish("tt", "1").is_empty());
}

#[test]
fn index_tests_only_candidates() {
    let hub = hub();
    for i in 0..10_000 {
        hub.subscribe(
            &format!("topic=bench.other.{i} and data.kind=x"),
            answer(Value::Null),
            Default::default(),
        )
        .unwrap();
    }
    hub.subscribe("topic=bench.target", answer(json!(1)), Default::default())
        .unwrap();
    hub.subscribe("topic=bench*", answer(json!(2)), Default::default())
        .unwrap();
    hub.subscribe("data.kind=x", answer(json!(3)), Default::default())
        .unwrap();
    assert_eq!(hub.candidate_count("bench.target"), 3);
    assert_eq!(hub.candidate_count("elsewhere"), 1);
}

#[test]
fn unsubscribe_plugin_removes_all_of_its_subscriptions() {
    let hub = hub();
    let plugin = PluginTag::new("p");
    let options = SubscribeOptions {
        plugin: Some(plugin.clone()),
        ..Default::default()
    };
    hub.subscribe("topic=a", answer(json!(1)), options.clone())
        .unwrap();
    hub.subscribe("topic=b or topic=a", answer(json!(1)), options)
        .unwrap();
    hub.subscribe("topic=a", answer(json!(2)), Default::default())
        .unwrap();
    assert_eq!(hub.subscription_count(&plugin), 2);
    assert_eq!(hub.unsubscribe_plugin(&plugin), 2);
    assert_eq!(hub.publish(&mut Event::new("a")), vec![json!(2)]);
}

fn of(plugin: &PluginTag) -> SubscribeOptions {
    SubscribeOptions {
        plugin: Some(plugin.clone()),
        ..Default::default()
    }
}

#[test]
fn a_held_version_is_invisible_until_it_replaces_the_old_one_in_one_step() {
    let hub = hub();
    let old = PluginTag::new("p");
    hub.subscribe("topic=a", answer(json!("old")), of(&old))
        .unwrap();
    let new = PluginTag::new("p");
    hub.hold(&new);
    hub.subscribe("topic=a", answer(json!("new")), of(&new))
        .unwrap();
    hub.subscribe("topic=*", answer(json!("new, any")), of(&new))
        .unwrap();
    let dropped = hub
        .subscribe("topic=a", answer(json!("dropped")), of(&new))
        .unwrap();
    hub.unsubscribe(&dropped).unwrap();
    assert_eq!(hub.subscription_count(&new), 2, "held ones count");
    assert_eq!(hub.publish(&mut Event::new("a")), vec![json!("old")]);

    assert_eq!(hub.replace_plugin(Some(&old), &new), 1);
    assert_eq!(
        hub.publish(&mut Event::new("a")),
        vec![json!("new"), json!("new, any")]
    );
    // Released: what it subscribes now is found at once.
    hub.subscribe("topic=b", answer(json!("later")), of(&new))
        .unwrap();
    assert_eq!(
        hub.publish(&mut Event::new("b")),
        vec![json!("new, any"), json!("later")]
    );
}

#[test]
fn a_held_version_that_fails_leaves_nothing_behind() {
    let hub = hub();
    let new = PluginTag::new("p");
    hub.hold(&new);
    hub.subscribe("topic=a", answer(json!("new")), of(&new))
        .unwrap();
    assert_eq!(hub.unsubscribe_plugin(&new), 1);
    // No longer held: a later subscription under the tag is found.
    hub.subscribe("topic=a", answer(json!("again")), of(&new))
        .unwrap();
    assert_eq!(hub.publish(&mut Event::new("a")), vec![json!("again")]);
}

/// A handler that publishes its own topic asynchronously, `copies` times per event.
fn self_publisher(hub: &Arc<EventHub>, copies: usize, seen: Arc<AtomicU64>) {
    let weak = Arc::downgrade(hub);
    hub.subscribe(
        "topic=loop",
        Arc::new(move |_: &mut Event| {
            seen.fetch_add(1, Ordering::Relaxed);
            if let Some(hub) = weak.upgrade() {
                for _ in 0..copies {
                    hub.publish_async(Event::new("loop"), None);
                }
            }
            Ok(Value::Null)
        }),
        SubscribeOptions {
            plugin: Some(PluginTag::new("looper")),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn an_asynchronous_chain_that_leads_back_to_itself_stops() {
    for copies in [1, 2] {
        let hub = Arc::new(hub());
        let seen = Arc::new(AtomicU64::new(0));
        self_publisher(&hub, copies, seen.clone());
        assert!(hub.publish_async(Event::new("loop"), None));
        hub.drain();
        let dispatched = seen.load(Ordering::Relaxed);
        let bound = (u64::from(MAX_ASYNC_GENERATIONS) + 1) * MAX_QUEUED_EVENTS as u64;
        assert!(
            dispatched > u64::from(MAX_ASYNC_GENERATIONS),
            "{copies}: {dispatched}"
        );
        assert!(dispatched <= bound, "{copies}: {dispatched}");
        if copies == 1 {
            assert_eq!(dispatched, u64::from(MAX_ASYNC_GENERATIONS) + 1);
        }
        // The hub is fine afterwards: a new chain starts from generation 0.
        seen.store(0, Ordering::Relaxed);
        assert_eq!(hub.publish(&mut Event::new("loop")).len(), 1);
        hub.drain();
        assert!(seen.load(Ordering::Relaxed) > 1);
    }
}

#[test]
fn replies_and_short_chains_are_not_bounded_by_the_chain_limit() {
    let hub = Arc::new(hub());
    let weak = Arc::downgrade(&hub);
    // a -> b -> c, each asynchronously, and every handler replies.
    for (topic, next) in [("a", Some("b")), ("b", Some("c")), ("c", None)] {
        let weak = weak.clone();
        hub.subscribe(
            &format!("topic={topic}"),
            Arc::new(move |_: &mut Event| {
                if let (Some(next), Some(hub)) = (next, weak.upgrade()) {
                    assert!(hub.publish_async(Event::new(next), None));
                }
                Ok(json!(topic))
            }),
            SubscribeOptions::default(),
        )
        .unwrap();
    }
    let replies = Arc::new(Mutex::new(Vec::new()));
    let sink = replies.clone();
    hub.publish_async(
        Event::new("a"),
        Some(Arc::new(move |reply: &Event| {
            sink.lock().unwrap().push(reply.data.clone())
        })),
    );
    hub.drain();
    assert_eq!(*replies.lock().unwrap(), vec![json!("a")]);
}

#[test]
fn a_large_index_keeps_dispatch_order_through_subscribes_and_unsubscribes() {
    let hub = hub();
    let plugin = PluginTag::new("many");
    let mut ids = Vec::new();
    // Priorities out of order, on one topic, from one plugin, plus a wildcard and an
    // unconstrained subscription from the host.
    for n in 0..3000i64 {
        let options = SubscribeOptions {
            priority: (n * 7919) % 101,
            plugin: Some(plugin.clone()),
            ..Default::default()
        };
        ids.push(hub.subscribe("topic=t", answer(json!(n)), options).unwrap());
    }
    hub.subscribe("topic=t*", answer(json!("wild")), with_priority(50))
        .unwrap();
    hub.subscribe("data.x=1", answer(json!("any")), with_priority(-1))
        .unwrap();
    assert_eq!(hub.subscription_count(&plugin), 3000);
    let order =
        |results: Vec<Value>| -> Vec<i64> { results.iter().filter_map(Value::as_i64).collect() };
    let mut expected: Vec<(i64, i64)> = (0..3000).map(|n| ((n * 7919) % 101, n)).collect();
    expected.sort();
    let results = hub.publish(&mut Event::new("t").with_data(json!({"x": "1"})));
    assert_eq!(results[0], json!("any"));
    assert!(results.contains(&json!("wild")));
    assert_eq!(
        order(results),
        expected.iter().map(|(_, n)| *n).collect::<Vec<_>>()
    );

    // Every other one goes; the rest keep their order, and the index is empty at the end.
    for id in ids.iter().step_by(2) {
        hub.unsubscribe(id).unwrap();
    }
    let results = hub.publish(&mut Event::new("t"));
    let kept: Vec<i64> = expected
        .iter()
        .map(|(_, n)| *n)
        .filter(|n| n % 2 == 1)
        .collect();
    assert_eq!(order(results), kept);
    assert_eq!(hub.subscription_count(&plugin), 1500);
    assert_eq!(hub.unsubscribe_plugin(&plugin), 1500);
    assert_eq!(hub.subscription_count(&plugin), 0);
    assert_eq!(
        hub.candidate_count("t"),
        2,
        "the host's wildcard and unconstrained ones are left"
    );
}

/// Records whether each call it gets was dispatched from the queue.
struct QueuedProbe(Arc<Mutex<Vec<bool>>>);

impl Handler for QueuedProbe {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        self.0.lock().unwrap().push(call.is_queued());
        Ok(Reply::Json(Value::Null))
    }
}

#[test]
fn a_handler_knows_whether_its_event_was_queued() {
    let hub = hub();
    let seen = Arc::new(Mutex::new(Vec::new()));
    hub.subscribe(
        "topic=t",
        Arc::new(QueuedProbe(seen.clone())),
        SubscribeOptions::default(),
    )
    .unwrap();
    hub.publish(&mut Event::new("t"));
    hub.publish_async(Event::new("t"), None);
    hub.drain();
    assert_eq!(*seen.lock().unwrap(), [false, true]);
}
