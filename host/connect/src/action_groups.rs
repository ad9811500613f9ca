//! Actions grouped as Connect's Actions window groups them: one entry per label, its items
//! the variants. `ftrack-connect actions` prints these groups and the window shows them, so
//! the two cannot disagree.

use connect_event::payloads::ActionItem;

/// Items sharing one label, as Connect shows them: one entry, or a group offering each
/// `label variant`.
#[derive(Debug, PartialEq)]
pub struct ActionGroup<'a> {
    /// The label the items share.
    pub label: &'a str,
    /// The items, in the order they were offered: the action's variants.
    pub items: Vec<&'a ActionItem>,
}

/// Groups items by exact `label` in the order labels are first seen, then sorts the groups
/// by lower-case label (a stable sort: labels equal but for case keep that order). Items keep
/// their order inside a group.
pub fn group_actions(items: &[ActionItem]) -> Vec<ActionGroup<'_>> {
    let mut groups: Vec<ActionGroup> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|group| group.label == item.label) {
            Some(group) => group.items.push(item),
            None => groups.push(ActionGroup {
                label: &item.label,
                items: vec![item],
            }),
        }
    }
    groups.sort_by_cached_key(|group| group.label.to_lowercase());
    groups
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
                        .map(|i| i.action_identifier.as_str())
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
}
