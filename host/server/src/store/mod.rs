//! Entities in SQLite: how they are kept, written and found.
//!
//! Layout: one table, `entity(type, pk, id, data)`. `type` is the concrete type (`Task`, never
//! `TypedContext`), `pk` the primary key's values joined by U+001F, `id` the `id` attribute
//! (most types' primary key, and what references point at), and `data` the stored attributes
//! as a JSON object: scalars under their names, and each reference as its foreign key
//! (`parent` is kept as `parent_id`). Collections are not kept: they are the entities whose
//! foreign key points back (a shot's `children` are the contexts whose `parent_id` is the
//! shot's id). One table rather than one per type keeps the layout independent of the schema
//! set (a new type or attribute needs no migration) and makes polymorphic queries (`Context`,
//! `TypedContext`, `Component`) a `type IN (...)` test. Every foreign key has an index on its
//! JSON path, so following a reference or a collection costs a lookup, whatever the table
//! holds.
//!
//! The store works inside the caller's transaction: `api` opens one per batch, so a batch is
//! kept whole or not at all. This module is the only one that writes SQL for entities; a
//! PostgreSQL backend would implement the same operations (`create`, `update`, `delete`,
//! `query`) over its own layout.

mod computed;
mod model;
mod select;
#[cfg(test)]
mod tests;
mod write;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::schema::SchemaSet;
pub(crate) use model::{
    attribute, concrete_types, entity_type, referable_types, schemas, Attribute, Scalar,
};

/// The entity operations of one transaction.
pub(crate) struct Store<'c> {
    connection: &'c Connection,
    /// The server's own URL, for computed URLs (`thumbnail_url`).
    server_url: &'c str,
}

/// A stored entity.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Its concrete type.
    pub(crate) ty: String,
    /// Its stored attributes.
    pub(crate) data: Map<String, Value>,
}

impl Row {
    /// The stored `id`, when it has one.
    pub(crate) fn id(&self) -> Option<&str> {
        self.data.get("id").and_then(Value::as_str)
    }
}

/// Separates the values of a composite primary key in the `pk` column.
const KEY_SEPARATOR: char = '\u{1f}';

/// The `pk` column's text for primary key `values`.
pub(crate) fn key_text(values: &[Value]) -> String {
    values
        .iter()
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(&KEY_SEPARATOR.to_string())
}

/// A database error as an API error (what failed is logged; the client gets the gist).
pub(crate) fn sql_error(err: rusqlite::Error) -> ApiError {
    ApiError::internal(format!("the database failed: {err}"))
}

/// Creates the indexes the schema set's foreign keys need (after the migrations, at open:
/// they follow the schema set the binary carries).
pub(crate) fn ensure_indexes(connection: &Connection, schemas: &SchemaSet) -> rusqlite::Result<()> {
    let mut keys: Vec<String> = schemas.foreign_keys().map(str::to_string).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        connection.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS entity_by_{key} ON entity (json_extract(data, '$.{key}'))"
        ))?;
    }
    Ok(())
}

impl<'c> Store<'c> {
    /// The store over `connection` (inside the caller's transaction).
    pub(crate) fn new(connection: &'c Connection, server_url: &'c str) -> Store<'c> {
        Store {
            connection,
            server_url,
        }
    }

    /// The entity of one of `types` whose `id` is `id`.
    pub(crate) fn by_id(&self, types: &[String], id: &str) -> Result<Option<Row>, ApiError> {
        self.find("id", types, id)
    }

    /// The entity of one of `types` whose primary key is `key`.
    pub(crate) fn by_key(&self, types: &[String], key: &str) -> Result<Option<Row>, ApiError> {
        self.find("pk", types, key)
    }

    /// The entity of one of `types` whose `column` (`id` or `pk`) is `value`.
    fn find(&self, column: &str, types: &[String], value: &str) -> Result<Option<Row>, ApiError> {
        let placeholders = vec!["?"; types.len()].join(", ");
        let sql = format!(
            "SELECT type, data FROM entity WHERE {column} = ? AND type IN ({placeholders})"
        );
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&value];
        params.extend(types.iter().map(|t| t as &dyn rusqlite::ToSql));
        // Cached: projections look references up once per row.
        self.connection
            .prepare_cached(&sql)
            .and_then(|mut statement| statement.query_row(params.as_slice(), row).optional())
            .map_err(sql_error)?
            .transpose()
    }
}

/// Reads a `(type, data)` row.
fn row(sql_row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Row, ApiError>> {
    let ty: String = sql_row.get(0)?;
    let text: String = sql_row.get(1)?;
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(data)) => Ok(Row { ty, data }),
        _ => Err(ApiError::internal(format!(
            "a stored {ty} is not a JSON object"
        ))),
    })
}
