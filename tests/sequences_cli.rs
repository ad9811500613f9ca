//! `ftrack-connect sequences` through the real binary, against the real clique 1.6.1 (the
//! reference virtualenv) making the same call as Connect's drop zone.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::kit::Sandbox;
use serde_json::Value;

/// A drop as an artist makes it: two sequences with holes, one of them ambiguous in
/// padding, a movie, a single file, a thumbnail, a versioned scene.
const DROP: &[&str] = &[
    "/shots/s010/render/beauty.0001.exr",
    "/shots/s010/render/beauty.0002.exr",
    "/shots/s010/render/beauty.0005.exr",
    "/shots/s010/render/beauty.0006.exr",
    "/shots/s010/render/depth.1001.dpx",
    "/shots/s010/render/depth.1002.dpx",
    "/shots/s010/render/depth.1004.dpx",
    "/shots/s010/review.mov",
    "/shots/s010/notes.txt",
    "/shots/s010/thumbnail.jpg",
    "/shots/s010/comp_v003.nk",
];

/// What clique answers for `DROP` with Connect's drop-zone call, `assume_padded` as given.
fn clique(assume_padded: bool) -> Value {
    let script = format!(
        "import clique, json, sys\n\
         paths = json.load(sys.stdin)\n\
         collections, remainder = clique.assemble(paths, patterns=[clique.PATTERNS['frames']], \
         assume_padded_when_ambiguous={})\n\
         print(json.dumps({{'collections': [{{'head': c.head, 'tail': c.tail, 'padding': \
         c.padding, 'indexes': list(c.indexes)}} for c in collections], 'remainder': remainder}}))\n",
        if assume_padded { "True" } else { "False" }
    );
    let mut child = Command::new(crate::server_api::python())
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(DROP).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

fn sequences(s: &Sandbox, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let mut child = s
        .command()
        .arg("sequences")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sequences_answers_as_connects_drop_zone_and_clique() {
    let s = Sandbox::new();
    let lines = DROP.join("\n") + "\n";
    let (code, stdout, stderr) = sequences(&s, &["--json"], Some(&lines));
    assert_eq!(code, Some(0), "{stderr}");
    let ours: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ours, clique(true), "Connect 25.11's drop zone");
    assert_eq!(
        ours["collections"][1]["padding"], 4,
        "1001-1004 taken as padded"
    );

    let mut args = vec!["--json", "--no-assume-padded"];
    args.extend_from_slice(DROP);
    let (_, stdout, _) = sequences(&s, &args, None);
    let older: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(older, clique(false), "the drop zone before Connect 25.11");
    assert_eq!(older["collections"][1]["padding"], 0);

    let (code, stdout, _) = sequences(&s, &[], Some(&lines));
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "/shots/s010/render/beauty.%04d.exr [1-2, 5-6]",
            "/shots/s010/render/depth.%04d.dpx [1001-1002, 1004]",
            "/shots/s010/review.mov",
            "/shots/s010/notes.txt",
            "/shots/s010/thumbnail.jpg",
            "/shots/s010/comp_v003.nk",
        ]
    );
    let (_, stdout, _) = sequences(
        &s,
        &[
            "--format",
            "{head}#{tail} missing: {holes}",
            "--pattern",
            "versions",
            "a_v1.ma",
            "a_v3.ma",
        ],
        None,
    );
    assert_eq!(stdout, "a_v#.ma missing: 2\n");
}

#[test]
fn sequences_refuses_bad_patterns_and_formats_with_status_2() {
    let s = Sandbox::new();
    let (code, _, stderr) = sequences(&s, &["--pattern", "no(group", "a.1.exr"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("pattern \"no(group\""), "{stderr}");
    let (code, _, stderr) = sequences(&s, &["--pattern", r"(\d+)", "a.1.exr"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("(?P<index>"), "{stderr}");
    let (code, _, stderr) = sequences(&s, &["--format", "{frame}", "a.1.exr", "a.2.exr"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no field {frame}"), "{stderr}");
}
