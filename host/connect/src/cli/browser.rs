//! Starting the user's web browser on a link, as `xdg-open` and Python's `webbrowser` do:
//! `$BROWSER` first (a `:`-separated list of commands, each with `%s` where the link goes, or
//! the link added at the end), else the desktop's opener (`xdg-open`, or `open` on macOS).

use ftrack_connect::desktop::{start, OPENER};

/// Opens `url` in a browser; what was run, or why nothing could be.
pub fn open(url: &str) -> Result<String, String> {
    let mut tried = Vec::new();
    for command in commands(url) {
        let shown = command.join(" ");
        match start(&command) {
            Ok(()) => return Ok(shown),
            Err(why) => tried.push(format!("{shown}: {why}")),
        }
    }
    Err(if tried.is_empty() {
        "no browser command to try".to_string()
    } else {
        tried.join("; ")
    })
}

/// The commands to try, in order, each as its words with the link in place.
fn commands(url: &str) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = std::env::var("BROWSER")
        .unwrap_or_default()
        .split(':')
        .filter(|entry| !entry.trim().is_empty())
        .filter_map(|entry| {
            let mut words = shlex::split(entry)?;
            if words.iter().any(|word| word.contains("%s")) {
                for word in &mut words {
                    *word = word.replace("%s", url);
                }
            } else {
                words.push(url.to_string());
            }
            Some(words)
        })
        .collect();
    commands.push(vec![OPENER.to_string(), url.to_string()]);
    commands
}
