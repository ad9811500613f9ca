//! `ftrack-connect event match`: JSON lines in, `true`/`false` out, errors per line.

use std::io::Write;
use std::process::Stdio;

use crate::kit::{Captured, Sandbox};

fn run_match(expression: &str, input: &str) -> Captured {
    let s = Sandbox::new();
    let mut child = s
        .command()
        .args(["event", "match", expression])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary may exit before reading (a bad expression): a broken pipe is no failure here.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap().into()
}

#[test]
fn one_answer_per_line_and_bad_lines_do_not_stop_reading() {
    let input = [
        r#"{"topic": "ftrack.action.discover", "data": {"x": "1"}}"#,
        r#"{"topic": "ftrack.update"}"#,
        "not json",
        "[1, 2]",
        r#"{"topic": "ftrack.action.launch", "data": {"x": 1}}"#,
        r#"{"topic": "ftrack.action.launch", "data": {"x": "1"}}"#,
        r#"{"topic": "x.reply", "inReplyToEvent": "abc", "data": {"x": "1"}}"#,
    ]
    .join("\n");
    let Captured { code, stdout, .. } = run_match("topic=action* and data.x=1", &input);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{stdout}");
    assert_eq!(lines[0], "true");
    assert_eq!(lines[1], "false");
    assert!(
        lines[2].starts_with("error: line 3: not JSON"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("error: line 4: not a JSON object"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4], "false", "number 1 is not the string 1");
    assert_eq!(lines[5], "true");
    assert_eq!(lines[6], "false");

    let Captured { stdout, .. } = run_match("in_reply_to_event=abc", &input);
    assert_eq!(
        stdout.lines().last(),
        Some("true"),
        "wire name inReplyToEvent is understood"
    );
}

#[test]
fn an_expression_that_does_not_parse_exits_2() {
    let Captured {
        code,
        stdout,
        stderr,
    } = run_match("topic=a and", "{}\n");
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("column 12"), "{stderr}");
    assert!(stderr.contains("expected"), "{stderr}");
}
