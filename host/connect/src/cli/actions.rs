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
//! Exit status: 0 on success; 1 when no reply to a launch says `success: true`; 2 for bad
//! input: a malformed `--selection`, an identifier or variant that no discovered item has
//! (the message lists those that exist).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use connect_event::Event;
use serde_json::{json, Map, Value};

use crate::credentials;
use crate::host::{Host, HostOptions};

/// Exit status for input that names nothing that exists, as for other usage errors.
const USAGE_ERROR: u8 = 2;

/// `ftrack-connect actions`.
#[derive(clap::Args, Debug)]
pub struct ActionsArgs {
    /// A selected entity, as `TYPE:ID` (e.g. `Task:4c1e...`); repeat for several.
    #[arg(
        long = "selection",
        value_name = "TYPE:ID",
        value_parser = parse_selected_entity,
        global = true
    )]
    selection: Vec<SelectedEntity>,
    /// Print JSON: the flat array of items (for `launch`: the array of replies).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<ActionsCommand>,
}

#[derive(clap::Subcommand, Debug)]
enum ActionsCommand {
    /// Run an action: publish ftrack.action.launch with the chosen item and the selection.
    Launch {
        /// The item's `actionIdentifier`.
        action_identifier: String,
        /// Which of the action's variants (e.g. the version of an application).
        #[arg(long)]
        variant: Option<String>,
    },
}

/// One entry of `data.selection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedEntity {
    pub entity_type: String,
    pub entity_id: String,
}

impl SelectedEntity {
    fn to_json(&self) -> Value {
        json!({"entityType": self.entity_type, "entityId": self.entity_id})
    }
}

/// Parses `TYPE:ID` (the id may itself contain `:`).
pub fn parse_selected_entity(text: &str) -> Result<SelectedEntity, String> {
    match text.split_once(':') {
        Some((kind, id)) if !kind.trim().is_empty() && !id.trim().is_empty() => {
            Ok(SelectedEntity {
                entity_type: kind.trim().to_string(),
                entity_id: id.trim().to_string(),
            })
        }
        _ => Err(format!(
            "expected TYPE:ID, such as Task:4c1e0c5a, not {text:?}"
        )),
    }
}

/// Items sharing one label, as Connect shows them: one entry, or a group offering each
/// `label variant`.
#[derive(Debug, PartialEq)]
pub struct ActionGroup<'a> {
    pub label: &'a str,
    pub items: Vec<&'a Map<String, Value>>,
}

/// Groups items by exact `label` in the order labels are first seen, then sorts the groups
/// by lower-case label (a stable sort: labels equal but for case keep that order). Items keep
/// their order inside a group.
pub fn group_actions(items: &[Map<String, Value>]) -> Vec<ActionGroup<'_>> {
    let mut groups: Vec<ActionGroup> = Vec::new();
    for item in items {
        let label = text_field(item, "label");
        match groups.iter_mut().find(|group| group.label == label) {
            Some(group) => group.items.push(item),
            None => groups.push(ActionGroup {
                label,
                items: vec![item],
            }),
        }
    }
    groups.sort_by_cached_key(|group| group.label.to_lowercase());
    groups
}

/// The items of `results` (replies to `ftrack.action.discover`), in reply order.
pub fn items_of(results: &[Value]) -> Vec<Map<String, Value>> {
    results
        .iter()
        .filter_map(|result| result.get("items")?.as_array())
        .flatten()
        .filter_map(|item| item.as_object().cloned())
        .collect()
}

fn text_field<'a>(item: &'a Map<String, Value>, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Runs `ftrack-connect actions ...`.
pub fn run(args: &ActionsArgs, data_dir: &Path, options: &HostOptions) -> ExitCode {
    let host = Host::load(&credentials::current(data_dir), options);
    host.start_session();
    let selection = Value::Array(args.selection.iter().map(SelectedEntity::to_json).collect());
    let mut discover =
        Event::new("ftrack.action.discover").with_data(json!({"selection": selection}));
    let results = host.hub().publish(&mut discover);
    host.hub().drain();
    let items = items_of(&results);
    match &args.command {
        None => {
            print_items(&items, args.json);
            ExitCode::SUCCESS
        }
        Some(ActionsCommand::Launch {
            action_identifier,
            variant,
        }) => match choose(&items, action_identifier, variant.as_deref()) {
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(USAGE_ERROR)
            }
            Ok(item) => launch(&host, item, selection, args.json),
        },
    }
}

fn print_items(items: &[Map<String, Value>], json: bool) {
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
        let indent = if group.items.len() > 1 {
            let _ = writeln!(out, "{}", group.label);
            "    "
        } else {
            ""
        };
        for item in group.items {
            let variant = text_field(item, "variant");
            let name = if variant.is_empty() {
                group.label.to_string()
            } else {
                format!("{} {variant}", group.label)
            };
            let mut how = shell_word(text_field(item, "actionIdentifier"));
            if !variant.is_empty() {
                how = format!("{how} --variant {}", shell_word(variant));
            }
            let width = 40usize.saturating_sub(indent.len());
            let _ = writeln!(out, "{indent}{name:<width$} {how}");
            let description = text_field(item, "description");
            if !description.is_empty() {
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
    items: &'a [Map<String, Value>],
    identifier: &str,
    variant: Option<&str>,
) -> Result<&'a Map<String, Value>, String> {
    let candidates: Vec<&Map<String, Value>> = items
        .iter()
        .filter(|item| text_field(item, "actionIdentifier") == identifier)
        .collect();
    if candidates.is_empty() {
        let mut known: Vec<&str> = Vec::new();
        for group in group_actions(items) {
            for item in group.items {
                let id = text_field(item, "actionIdentifier");
                if !known.contains(&id) {
                    known.push(id);
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
    let variants: Vec<&str> = candidates
        .iter()
        .map(|item| text_field(item, "variant"))
        .collect();
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

fn launch(host: &Host, item: &Map<String, Value>, selection: Value, json: bool) -> ExitCode {
    let mut data = item.clone();
    data.insert("selection".into(), selection);
    let mut event = Event::new("ftrack.action.launch").with_data(Value::Object(data));
    let results = host.hub().publish(&mut event);
    host.hub().drain();
    let succeeded = results
        .iter()
        .any(|result| result.get("success") == Some(&Value::Bool(true)));
    if json {
        println!(
            "{}",
            serde_json::to_string(&results).expect("results are JSON")
        );
    } else {
        let mut answered = false;
        for result in &results {
            let Some(message) = result.get("message") else {
                continue;
            };
            answered = true;
            let message = message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_string);
            if result.get("success") == Some(&Value::Bool(true)) {
                println!("{message}");
            } else {
                eprintln!("launch failed: {message}");
            }
        }
        if !answered && !succeeded {
            eprintln!(
                "error: no handler answered the launch of {:?}",
                text_field(item, "actionIdentifier")
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

    fn item(label: &str, variant: Option<&str>, id: &str) -> Map<String, Value> {
        let mut item = json!({"label": label, "actionIdentifier": id});
        if let Some(variant) = variant {
            item["variant"] = json!(variant);
        }
        item.as_object().unwrap().clone()
    }

    #[test]
    fn groups_by_exact_label_sorted_case_insensitively() {
        let items = [
            item("zeta", None, "z"),
            item("Maya", Some("2025"), "m"),
            item("alpha", None, "a"),
            item("Maya", Some("2024"), "m"),
            item("maya", None, "lower"),
        ];
        let groups = group_actions(&items);
        let shape: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|g| {
                (
                    g.label,
                    g.items
                        .iter()
                        .map(|i| text_field(i, "actionIdentifier"))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("alpha", vec!["a"]),
                ("Maya", vec!["m", "m"]),
                ("maya", vec!["lower"]),
                ("zeta", vec!["z"]),
            ]
        );
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
            parse_selected_entity("Task:a:b").unwrap(),
            SelectedEntity {
                entity_type: "Task".into(),
                entity_id: "a:b".into()
            }
        );
        assert!(parse_selected_entity("Task").is_err());
        assert!(parse_selected_entity(":1").is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("maya-2024"), "maya-2024");
        assert_eq!(shell_word("2024 [pipeline]"), "'2024 [pipeline]'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
