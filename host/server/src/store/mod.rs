//! Storage: the one module of the server that knows SQL, SQLite or `rusqlite`. Everything
//! else speaks to it through this narrow surface:
//!
//! - [`Database`]: the data folder's database, opened (and its layout migrated) once; a
//!   [`Database::transaction`] runs a piece of work all or nothing (a batch of `/api`
//!   operations, an encode job's results); [`Database::prepare`] makes what the schema set
//!   needs and seeds a new database with what a fresh ftrack site has (`seed`);
//! - the API users' keys (`users`): add, list, remove, the stored hashes of a user's keys;
//! - [`Store`], the entity operations inside one transaction: `create`, `update`, `delete`,
//!   `query` (a parsed query of `crate::query`), and the lookups the encoder needs.
//!
//! Entities as SQLite keeps them: one table, `entity(type, pk, id, data)`. `type` is the
//! concrete type (`Task`, never `TypedContext`), `pk` the primary key's values joined by
//! U+001F, `id` the `id` attribute (most types' primary key, and what references point at),
//! and `data` the stored attributes as a JSON object: scalars under their names, and each
//! reference as its foreign key (`parent` is kept as `parent_id`). Collections are not kept:
//! they are the entities whose foreign key points back (a shot's `children` are the contexts
//! whose `parent_id` is the shot's id). One table rather than one per type keeps the layout
//! independent of the schema set (a new type or attribute needs no migration) and makes
//! polymorphic queries (`Context`, `TypedContext`, `Component`) a `type IN (...)` test. Every
//! foreign key has an index on its JSON path, so following a reference or a collection costs
//! a lookup, whatever the table holds.
//!
//! Where a PostgreSQL backend (for studios that outgrow one machine) plugs in: behind this
//! same surface. `Database` would pick the backend from the data folder's configuration and
//! hold a connection pool instead of one SQLite connection; `transaction` would hand the work
//! a `Store` over a PostgreSQL transaction. The SQL text a second backend rewrites (`jsonb`
//! paths for `json_extract`; `ON CONFLICT` is the same) is all here: the layout and
//! migrations (`database`), lookups by id and the indexes (this file), the users' keys
//! (`users`), writes (`write`), compiled queries (`select`), and the seed's "is this
//! database new" test (`seed`). The schema model (`model`), the computed attributes
//! (`computed`), the seed data and everything above this module stay as they are.

mod computed;
mod database;
mod model;
mod seed;
mod select;
#[cfg(test)]
mod tests;
mod users;
mod write;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::schema::SchemaSet;
pub use database::{Database, DbError, DATABASE_FILE};
pub(crate) use model::schemas;
use model::{attribute, concrete_types, entity_type, referable_types, Attribute, Scalar};
pub(crate) use seed::SERVER_LOCATION;
pub use users::ApiUser;

/// The entity operations of one transaction (made by [`Database::transaction`]).
pub(crate) struct Store<'c> {
    connection: &'c Connection,
    /// The server's own URL, for computed URLs (`thumbnail_url`).
    server_url: &'c str,
}

/// A stored entity.
#[derive(Debug, Clone)]
struct Row {
    /// Its concrete type.
    ty: String,
    /// Its stored attributes.
    data: Map<String, Value>,
}

impl Row {
    /// The stored `id`, when it has one.
    fn id(&self) -> Option<&str> {
        self.data.get("id").and_then(Value::as_str)
    }
}

/// Separates the values of a composite primary key in the `pk` column.
const KEY_SEPARATOR: char = '\u{1f}';

/// The `pk` column's text for primary key `values`.
fn key_text(values: &[Value]) -> String {
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
fn sql_error(err: rusqlite::Error) -> ApiError {
    ApiError::internal(format!("the database failed: {err}"))
}

/// Creates the indexes the schema set's foreign keys need (after the migrations, at open:
/// they follow the schema set the binary carries).
fn ensure_indexes(connection: &Connection, schemas: &SchemaSet) -> rusqlite::Result<()> {
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
    fn new(connection: &'c Connection, server_url: &'c str) -> Store<'c> {
        Store {
            connection,
            server_url,
        }
    }

    /// The entity of one of `types` whose `id` is `id`.
    fn by_id(&self, types: &[String], id: &str) -> Result<Option<Row>, ApiError> {
        self.find("id", types, id)
    }

    /// The entity of one of `types` whose primary key is `key`.
    fn by_key(&self, types: &[String], key: &str) -> Result<Option<Row>, ApiError> {
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
