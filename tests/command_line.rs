//! The command line itself, through the real binary: what each subcommand's help says and how
//! a mistyped argument is refused, whichever subcommand it is given to. (clap builds a
//! subcommand's arguments only when the command line names it: `cli::deferred`.)

use crate::kit::Sandbox;

/// The subcommands `ftrack-connect --help` lists, each with its line.
fn listed_commands(s: &Sandbox) -> Vec<(String, String)> {
    let help = s.capture(&["--help"]).success().stdout;
    let listing = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_else(|| panic!("no command list in:\n{help}"));
    listing
        .lines()
        .filter_map(|line| {
            let (name, about) = line.trim_start().split_once(' ')?;
            Some((name.to_string(), about.trim().to_string()))
        })
        .filter(|(name, _)| name != "help")
        .collect()
}

#[test]
fn each_subcommand_s_help_opens_with_its_line_in_the_list_and_shows_its_own_options() {
    let s = Sandbox::new();
    let commands = listed_commands(&s);
    assert!(commands.len() >= 13, "{commands:?}");
    for (name, about) in &commands {
        let help = s.capture(&[name, "--help"]).success().stdout;
        assert_eq!(
            help.lines().next(),
            Some(about.as_str()),
            "`{name} --help`:\n{help}"
        );
        assert!(
            help.contains(&format!("Usage: ftrack-connect {name}")),
            "`{name} --help`:\n{help}"
        );
    }
    // A subcommand's own arguments are there once it is named.
    let publish = s.capture(&["publish", "--help"]).success().stdout;
    assert!(publish.contains("--context-path"), "{publish}");
    let event = s.capture(&["event", "publish", "--help"]).success().stdout;
    assert!(event.contains("--standalone"), "{event}");
}

#[test]
fn a_mistyped_argument_is_refused_with_a_suggestion_by_any_subcommand() {
    let s = Sandbox::new();
    let refused = s.capture(&["event", "publish", "t", "--standalon"]);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("unexpected argument '--standalon'")
            && refused.stderr.contains("--standalone"),
        "{}",
        refused.stderr
    );
    let unknown = s.capture(&["evnt"]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("'event'"), "{}", unknown.stderr);
    // The global option works after a subcommand as before it.
    let listed = s.capture(&["plugins", "--verbosity", "error", "--json"]);
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
}

#[test]
fn output_for_a_reader_gone_away_is_dropped_without_a_panic() {
    let s = Sandbox::new();
    let mut child = s
        .command()
        .args(["event", "publish", "ftrack.action.discover", "--standalone"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes (as `| head -c 0` would) before the command has started: its reply
    // finds the pipe closed.
    drop(child.stdout.take());
    let ended = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&ended.stderr);
    assert!(ended.status.success(), "{:?}: {stderr}", ended.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
