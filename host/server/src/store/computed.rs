//! Attributes the server works out when they are read: `context_type`, and `link`, the path
//! from the project down to an entity (what ftrack's `StandardStructure` builds folder names
//! from).

use serde_json::{json, Value};

use super::*;

/// How far up a `link` goes before the server stops (a parent loop in the data).
const MAX_LINK_DEPTH: usize = 256;

impl Store<'_> {
    /// The computed attribute `name` of `row`; null where the server does not compute it.
    pub(super) fn computed(&self, row: &Row, name: &str) -> Result<Value, ApiError> {
        Ok(match name {
            "context_type" => match row.ty.as_str() {
                "Project" => json!("show"),
                ty if concrete_types("TypedContext").iter().any(|t| t == ty) => json!("task"),
                _ => Value::Null,
            },
            "link" | "_link" => Value::Array(self.link(row)?),
            "thumbnail_url" => match row.data.get("thumbnail_id").and_then(Value::as_str) {
                Some(id) => json!({
                    "url": format!("{}/component/thumbnail?id={id}", self.server_url),
                    "value": id,
                }),
                None => Value::Null,
            },
            _ => Value::Null,
        })
    }

    /// Whether the version `id` has a thumbnail.
    pub(crate) fn version_thumbnail(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self
            .by_id(&["AssetVersion".to_string()], id)?
            .is_some_and(|v| v.data.get("thumbnail_id").is_some_and(Value::is_string)))
    }

    /// `[{id, name, type}]` from the project down to `row`.
    fn link(&self, row: &Row) -> Result<Vec<Value>, ApiError> {
        let item = |row: &Row, kind: &str, name: Value| json!({"id": row.id(), "name": name, "type": kind});
        match row.ty.as_str() {
            "AssetVersion" => {
                let Some(asset) = self.related(row, "asset_id", "Asset")? else {
                    return Ok(Vec::new());
                };
                let mut link = self.context_link(&asset, "context_id")?;
                let name = format!(
                    "{} v{}",
                    asset
                        .data
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    row.data.get("version").map_or(Value::Null, Value::clone)
                );
                link.push(item(row, "AssetVersion", json!(name)));
                Ok(link)
            }
            "Asset" => {
                let mut link = self.context_link(row, "context_id")?;
                link.push(item(
                    row,
                    "Asset",
                    row.data.get("name").cloned().unwrap_or_default(),
                ));
                Ok(link)
            }
            _ => {
                let mut link = self.context_link(row, "parent_id")?;
                let kind = if row.ty == "Project" {
                    "Project"
                } else {
                    "TypedContext"
                };
                let name = row.data.get("name").cloned().unwrap_or_default();
                if concrete_types("Context").contains(&row.ty) {
                    link.push(item(row, kind, name));
                }
                Ok(link)
            }
        }
    }

    /// The link of the context `row.key` points at (empty when there is none).
    fn context_link(&self, row: &Row, key: &str) -> Result<Vec<Value>, ApiError> {
        let mut chain = Vec::new();
        let mut next = self.related(row, key, "Context")?;
        while let Some(context) = next {
            if chain.len() >= MAX_LINK_DEPTH {
                break;
            }
            next = self.related(&context, "parent_id", "Context")?;
            chain.push(context);
        }
        Ok(chain
            .iter()
            .rev()
            .map(|context| {
                let kind = if context.ty == "Project" {
                    "Project"
                } else {
                    "TypedContext"
                };
                json!({"id": context.id(), "name": context.data.get("name"), "type": kind})
            })
            .collect())
    }

    /// The entity of `target` (or a subtype) that `row`'s foreign key `key` points at.
    fn related(&self, row: &Row, key: &str, target: &str) -> Result<Option<Row>, ApiError> {
        match row.data.get(key).and_then(Value::as_str) {
            Some(id) => self.by_id(&referable_types(target), id),
            None => Ok(None),
        }
    }
}
