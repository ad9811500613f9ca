//! `ftrack-connect actions`: what ftrack's Actions window does, on the command line.
//!
//! `actions [--selection TYPE:ID ...] [--json]` publishes `ftrack.action.discover` for the
//! selection and shows the items of every reply, grouped as Connect groups them
//! ([`group_actions`]); `--json` prints them as one flat array instead.
//!
//! `actions launch ACTION_IDENTIFIER [--variant V] [--selection ...]` discovers the same way,
//! picks the item with that `actionIdentifier` (and variant), and publishes
//! `ftrack.action.launch` with the item's fields and the selection, as Connect does when an
//! action is clicked. It prints the replies' messages and succeeds only when a reply says
//! `success: true`.
//!
//! Both go to the running host of this user when there is one (its plugins, already loaded,
//! answer), else load the plugins here (`--standalone` always does).
//!
//! Exit status: 0 on success; 1 when no reply to a launch says `success: true`; 2 for bad
//! input: a malformed `--selection`, an identifier or variant that no discovered item has
//! (the message lists those that exist).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use connect_event::payloads::{ActionItem, ActionItems, ActionLaunch, ActionReply, SelectionEntry};
use connect_event::{topics, Event};
use serde_json::json;

use ftrack_connect::action_groups::group_actions;

use super::target::Target;
use super::{fail, usage_error};

/// `ftrack-connect actions`.
#[derive(clap::Args, Debug)]
pub struct ActionsArgs {
    /// A selected entity, as `TYPE:ID` (e.g. `Task:4c1e...`); repeat for several.
    #[arg(
        long = "selection",
        value_name = "TYPE:ID",
        value_parser = parse_selection_entry,
        global = true
    )]
    selection: Vec<SelectionEntry>,
    /// Print JSON: the flat array of items (for `launch`: the array of replies).
    #[arg(long, global = true)]
    json: bool,
    /// Load the plugins here even if a host is running.
    #[arg(long, global = true)]
    standalone: bool,
    /// A folder of plugin folders to search before FTRACK_CONNECT_PLUGIN_PATH (repeatable).
    #[arg(long = "plugin-path", value_name = "DIR", global = true)]
    plugin_paths: Vec<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<ActionsCommand>,
}

#[derive(clap::Subcommand, Debug)]
enum ActionsCommand {
    /// Run an action: publish ftrack.action.launch with the chosen item and the selection.
    Launch {
        /// The item's `actionIdentifier` (the second column of the listing).
        action_identifier: String,
        /// Which of the action's variants (e.g. the version of an application).
        #[arg(long)]
        variant: Option<String>,
    },
}

/// Parses `TYPE:ID` (the id may itself contain `:`).
fn parse_selection_entry(text: &str) -> Result<SelectionEntry, String> {
    match text.split_once(':') {
        Some((kind, id)) if !kind.trim().is_empty() && !id.trim().is_empty() => {
            Ok(SelectionEntry {
                entity_type: kind.trim().to_string(),
                entity_id: id.trim().to_string(),
            })
        }
        _ => Err(format!(
            "expected TYPE:ID, such as Task:4c1e0c5a, not {text:?}"
        )),
    }
}

/// Runs `ftrack-connect actions ...`.
pub fn run(args: &ActionsArgs, first: &super::PluginPaths, data_dir: &Path) -> ExitCode {
    let options = super::PluginPaths {
        dirs: args.plugin_paths.clone(),
    }
    .host_options(first, data_dir);
    let target = Target::find(args.standalone, data_dir, &options);
    let discover =
        Event::new(topics::ACTION_DISCOVER).with_data(json!({ "selection": args.selection }));
    let items = match target.publish(discover) {
        Ok(results) => ActionItems::collect(&results),
        Err(err) => return fail(&err.to_string()),
    };
    let status = match &args.command {
        None => {
            print_items(&items, args.json);
            ExitCode::SUCCESS
        }
        Some(ActionsCommand::Launch {
            action_identifier,
            variant,
        }) => match choose(&items, action_identifier, variant.as_deref()) {
            Err(message) => usage_error(&message),
            Ok(item) => launch(&target, item, &args.selection, args.json),
        },
    };
    target.finish();
    status
}

fn print_items(items: &[ActionItem], json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(items).expect("items are JSON");
        let _ = writeln!(out, "{text}");
        return;
    }
    if items.is_empty() {
        eprintln!("no actions for this selection");
        return;
    }
    for group in group_actions(items) {
        // A label with variants is a heading with its variants below, even when there is
        // one: `Maya` then `Maya 2024`, never `Maya 2024` alone, which reads as one name.
        let has_variants = group.items.iter().any(|item| !item.variant().is_empty());
        let indent = if group.items.len() > 1 || has_variants {
            let _ = writeln!(out, "{}", group.label);
            "    "
        } else {
            ""
        };
        for item in group.items {
            let variant = item.variant();
            let name = if variant.is_empty() {
                group.label.to_string()
            } else {
                format!("{} {variant}", group.label)
            };
            let mut how = shell_word(&item.action_identifier);
            if !variant.is_empty() {
                how = format!("{how} --variant {}", shell_word(variant));
            }
            let width = 40usize.saturating_sub(indent.len());
            let _ = writeln!(out, "{indent}{name:<width$} {how}");
            if let Some(description) = item.description.as_deref().filter(|d| !d.is_empty()) {
                let _ = writeln!(out, "{indent}    {description}");
            }
        }
    }
}

/// `text` as one shell word, quoted only when it needs to be.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The item to launch, or why there is none (listing what there is).
fn choose<'a>(
    items: &'a [ActionItem],
    identifier: &str,
    variant: Option<&str>,
) -> Result<&'a ActionItem, String> {
    let candidates: Vec<&ActionItem> = items
        .iter()
        .filter(|item| item.action_identifier == identifier)
        .collect();
    if candidates.is_empty() {
        let mut known: Vec<&str> = Vec::new();
        for group in group_actions(items) {
            for item in group.items {
                if !known.contains(&item.action_identifier.as_str()) {
                    known.push(&item.action_identifier);
                }
            }
        }
        let known = if known.is_empty() {
            "there are none".to_string()
        } else {
            format!("available: {}", known.join(", "))
        };
        return Err(format!(
            "no action {identifier:?} for this selection; {known}"
        ));
    }
    let variants: Vec<&str> = candidates.iter().map(|item| item.variant()).collect();
    let listed = || {
        variants
            .iter()
            .map(|v| if v.is_empty() { "(none)" } else { v })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match variant {
        Some(wanted) => candidates
            .iter()
            .zip(&variants)
            .find(|(_, v)| **v == wanted)
            .map(|(item, _)| *item)
            .ok_or_else(|| {
                format!(
                    "action {identifier:?} has no variant {wanted:?}; its variants: {}",
                    listed()
                )
            }),
        None if variants.iter().all(|v| *v == variants[0]) => Ok(candidates[0]),
        None => Err(format!(
            "action {identifier:?} has several variants: {}; choose one with --variant",
            listed()
        )),
    }
}

fn launch(
    target: &Target,
    item: &ActionItem,
    selection: &[SelectionEntry],
    json: bool,
) -> ExitCode {
    let data = ActionLaunch {
        item: item.clone(),
        selection: selection.to_vec(),
    };
    let event = Event::new(topics::ACTION_LAUNCH)
        .with_data(serde_json::to_value(data).expect("launch data is JSON"));
    let results = match target.publish(event) {
        Ok(results) => results,
        Err(err) => return fail(&err.to_string()),
    };
    let replies: Vec<ActionReply> = results
        .iter()
        .filter_map(ActionReply::from_answer)
        .collect();
    let succeeded = replies.iter().any(|reply| reply.success);
    if json {
        outln!(
            "{}",
            serde_json::to_string(&results).expect("results are JSON")
        );
    } else {
        let mut answered = false;
        for reply in &replies {
            let Some(message) = reply.message_text() else {
                continue;
            };
            answered = true;
            if reply.success {
                outln!("{message}");
            } else {
                eprintln!("launch failed: {message}");
            }
        }
        if !answered && !succeeded {
            eprintln!(
                "error: no handler answered the launch of {:?}",
                item.action_identifier
            );
        }
    }
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(label: &str, variant: Option<&str>, id: &str) -> ActionItem {
        ActionItem {
            label: label.into(),
            action_identifier: id.into(),
            variant: variant.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn choosing_items() {
        let items = [
            item("Maya", Some("2025"), "m"),
            item("Maya", Some("2024"), "m"),
            item("Hello", None, "h"),
        ];
        assert_eq!(choose(&items, "h", None).unwrap(), &items[2]);
        assert_eq!(choose(&items, "m", Some("2024")).unwrap(), &items[1]);
        let unknown = choose(&items, "x", None).unwrap_err();
        assert_eq!(
            unknown,
            r#"no action "x" for this selection; available: h, m"#
        );
        let several = choose(&items, "m", None).unwrap_err();
        assert!(
            several.contains("several variants: 2025, 2024"),
            "{several}"
        );
        let wrong = choose(&items, "m", Some("2023")).unwrap_err();
        assert!(wrong.contains("its variants: 2025, 2024"), "{wrong}");
    }

    #[test]
    fn selection_syntax() {
        assert_eq!(
            parse_selection_entry("Task:a:b").unwrap(),
            SelectionEntry {
                entity_type: "Task".into(),
                entity_id: "a:b".into()
            }
        );
        assert!(parse_selection_entry("Task").is_err());
        assert!(parse_selection_entry(":1").is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("maya-2024"), "maya-2024");
        assert_eq!(shell_word("2024 [pipeline]"), "'2024 [pipeline]'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
