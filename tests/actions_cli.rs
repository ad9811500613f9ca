//! `ftrack-connect actions` through the real binary, against Rhai action hooks: grouping as
//! Connect shows actions, the flat `--json` items, `actions launch` with the item's fields and
//! the selection, its exit status, and the errors for identifiers and variants that do not
//! exist.

use crate::kit::{Captured, Sandbox};
use serde_json::{json, Value};

/// Two plugins answering `ftrack.action.discover`, loaded in this order (folder names sorted).
fn action_plugins(s: &Sandbox) {
    s.hook(
        "a-actions",
        "actions.rhai",
        r#"
        fn discover(event) {
            #{ items: [
                #{ label: "zeta", actionIdentifier: "z" },
                #{ label: "Review", variant: "2", actionIdentifier: "review", applicationData: #{ take: 2 } },
                #{ label: "Echo", actionIdentifier: "echo", selected: event.data.selection },
            ] }
        }
        fn launch_review(event) {
            #{ success: true,
               message: `review ${event.data.variant} of ${event.data.selection.len()} entities, first ${event.data.selection[0].entityId}, take ${event.data.applicationData.take}` }
        }
        fn register(session) {
            session.event_hub.subscribe("topic=ftrack.action.discover", Fn("discover"));
            session.event_hub.subscribe(
                "topic=ftrack.action.launch and data.actionIdentifier=review", Fn("launch_review"));
            session.event_hub.subscribe(
                "topic=ftrack.action.launch and data.actionIdentifier=z",
                |event| #{ success: false, message: "zeta is broken today" });
        }"#,
    );
    s.hook(
        "b-actions",
        "actions.rhai",
        r#"
        fn register(session) {
            session.event_hub.subscribe("topic=ftrack.action.discover", |event| #{ items: [
                #{ label: "alpha", actionIdentifier: "a", description: "The first one." },
                #{ label: "Review", variant: "1", actionIdentifier: "review", applicationData: #{ take: 1 } },
            ] });
        }"#,
    );
}

#[test]
fn actions_are_grouped_by_label_and_sorted() {
    let s = Sandbox::new();
    action_plugins(&s);
    let stdout = s
        .capture(&["actions", "--selection", "Task:t1"])
        .success()
        .stdout;
    let expected = [
        "alpha                                    a",
        "    The first one.",
        "Echo                                     echo",
        "Review",
        "    Review 2                             review --variant 2",
        "    Review 1                             review --variant 1",
        "zeta                                     z",
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stdout}");
}

#[test]
fn json_prints_the_flat_items_with_all_their_fields() {
    let s = Sandbox::new();
    action_plugins(&s);
    let stdout = s
        .capture(&[
            "actions",
            "--json",
            "--selection",
            "Task:t1",
            "--selection",
            "Shot:s1",
        ])
        .success()
        .stdout;
    let items: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["actionIdentifier"].as_str().unwrap())
        .collect();
    // In reply order, not grouped.
    assert_eq!(ids, ["z", "review", "echo", "a", "review"]);
    assert_eq!(items[1]["applicationData"], json!({"take": 2}));
    assert_eq!(items[3]["description"], "The first one.");
    // The selection reached the hooks as ftrack's data.selection.
    assert_eq!(
        items[2]["selected"],
        json!([
            {"entityType": "Task", "entityId": "t1"},
            {"entityType": "Shot", "entityId": "s1"}
        ])
    );
}

#[test]
fn launch_publishes_the_item_and_the_selection() {
    let s = Sandbox::new();
    action_plugins(&s);
    let stdout = s
        .capture(&[
            "actions",
            "launch",
            "review",
            "--variant",
            "1",
            "--selection",
            "Task:t1",
            "--selection",
            "Shot:s1",
        ])
        .success()
        .stdout;
    assert_eq!(stdout.trim(), "review 1 of 2 entities, first t1, take 1");

    // --selection also works before the subcommand; --json prints the replies.
    let stdout = s
        .capture(&[
            "actions",
            "--selection",
            "Task:t9",
            "launch",
            "review",
            "--variant",
            "2",
            "--json",
        ])
        .success()
        .stdout;
    let replies: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        replies,
        json!([{"success": true, "message": "review 2 of 1 entities, first t9, take 2"}])
    );
}

#[test]
fn launch_exit_status_says_whether_a_reply_succeeded() {
    let s = Sandbox::new();
    action_plugins(&s);
    let Captured {
        code,
        stdout,
        stderr,
    } = s.capture(&["actions", "launch", "z"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stderr.contains("launch failed: zeta is broken today"),
        "{stderr}"
    );

    // Nobody answers the launch of `a`.
    let Captured { code, stderr, .. } = s.capture(&["actions", "launch", "a"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(r#"error: no handler answered the launch of "a""#),
        "{stderr}"
    );
}

#[test]
fn unknown_identifiers_and_variants_list_what_exists() {
    let s = Sandbox::new();
    action_plugins(&s);
    let Captured { code, stderr, .. } = s.capture(&["actions", "launch", "nope"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            r#"error: no action "nope" for this selection; available: a, echo, review, z"#
        ),
        "{stderr}"
    );
    let Captured { code, stderr, .. } =
        s.capture(&["actions", "launch", "review", "--variant", "3"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(r#"error: action "review" has no variant "3"; its variants: 2, 1"#),
        "{stderr}"
    );
    let Captured { code, stderr, .. } = s.capture(&["actions", "launch", "review"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            r#"error: action "review" has several variants: 2, 1; choose one with --variant"#
        ),
        "{stderr}"
    );

    // Nothing at all to launch.
    let empty = Sandbox::new();
    let Captured { code, stderr, .. } = empty.capture(&["actions", "launch", "x"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("there are none"), "{stderr}");
    let Captured { stdout, stderr, .. } = empty.capture(&["actions"]).success();
    assert_eq!(stdout, "");
    assert!(stderr.contains("no actions for this selection"), "{stderr}");
}

#[test]
fn a_malformed_selection_is_a_usage_error() {
    let s = Sandbox::new();
    let Captured { code, stderr, .. } = s.capture(&["actions", "--selection", "Task"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("expected TYPE:ID"), "{stderr}");
}

/// With a resident host running, `actions` asks it (its plugins, loaded when it started),
/// as `event publish` and `plugins` do; `--standalone` loads the plugins of the folders as
/// they are now.
#[test]
fn actions_go_through_the_running_host_unless_standalone() {
    let s = Sandbox::new();
    action_plugins(&s);
    let mut host = crate::kit::Running::start(&s, &["run"]);
    host.wait_for("is running");
    s.hook(
        "c-later",
        "later.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=ftrack.action.discover",
                |event| #{ items: [#{ label: "Later", actionIdentifier: "later" }] });
        }"#,
    );
    let identifiers = |args: &[&str]| -> Vec<String> {
        let stdout = s.capture(args).success().stdout;
        let items: Vec<Value> = serde_json::from_str(&stdout).unwrap();
        items
            .iter()
            .map(|item| item["actionIdentifier"].as_str().unwrap().to_string())
            .collect()
    };
    let through_host = identifiers(&["actions", "--json"]);
    assert!(
        !through_host.contains(&"later".to_string()),
        "{through_host:?}"
    );
    assert!(
        through_host.contains(&"review".to_string()),
        "{through_host:?}"
    );
    let standalone = identifiers(&["actions", "--json", "--standalone"]);
    assert!(standalone.contains(&"later".to_string()), "{standalone:?}");

    // Launching goes through the host too: its answer, its exit status.
    let stdout = s
        .capture(&[
            "actions",
            "launch",
            "review",
            "--variant",
            "2",
            "--selection",
            "Task:t1",
        ])
        .success()
        .stdout;
    assert_eq!(stdout.trim(), "review 2 of 1 entities, first t1, take 2");
    let Captured { code, stderr, .. } = s.capture(&["actions", "launch", "later"]);
    assert_eq!(
        code,
        Some(2),
        "the running host has no such action: {stderr}"
    );
    assert!(stderr.contains(r#"no action "later""#), "{stderr}");
}

/// A label with variants is shown as a heading with its variants below, even when there is
/// only one, so the variant never reads as part of the name.
#[test]
fn a_single_variant_is_listed_under_its_label() {
    let s = Sandbox::new();
    s.hook(
        "one-variant",
        "actions.rhai",
        r#"fn register(session) {
            session.event_hub.subscribe("topic=ftrack.action.discover", |event| #{ items: [
                #{ label: "Painter", variant: "2024", actionIdentifier: "painter" },
                #{ label: "Hello", actionIdentifier: "hello" },
            ] });
        }"#,
    );
    let stdout = s.capture(&["actions"]).success().stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("Hello ") && lines[0].ends_with(" hello"),
        "{stdout}"
    );
    assert_eq!(lines[1], "Painter", "{stdout}");
    assert!(
        lines[2].starts_with("    Painter 2024") && lines[2].ends_with("painter --variant 2024"),
        "{stdout}"
    );
}
