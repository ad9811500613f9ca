//! Writing entities: `create`, `update` and `delete` as the clients send them, checked
//! against the schema: unknown attributes, wrong types, missing required values, immutable
//! attributes and references to entities that do not exist are errors naming the type, the
//! attribute and the value, and fail the batch.

use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};

use super::model::is_concrete;
use super::*;

/// The foreign keys through which an entity owns others: deleting it deletes them (a shot's
/// tasks, an asset's versions, a version's components, a component's locations and members,
/// an entity's metadata and notes).
const OWNING_KEYS: &[&str] = &[
    "parent_id",
    "context_id",
    "asset_id",
    "version_id",
    "component_id",
    "container_id",
];

/// Members of a collection set in a write: their type, the key that points back, their ids.
struct Members {
    target: String,
    key: String,
    ids: Vec<String>,
}

impl Store<'_> {
    /// Creates an entity of `type_name` from the client's `values`; returns it as stored
    /// (with what the server filled in: defaults, `version`, `system_type`).
    pub(crate) fn create(
        &self,
        type_name: &str,
        values: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let et = entity_type(type_name)?;
        if !is_concrete(type_name) {
            return Err(ApiError::bad_request(format!(
                "{type_name} cannot be created itself: create one of {}",
                concrete_types(type_name).join(", ")
            )));
        }
        let mut data = Map::new();
        let mut members = Vec::new();
        for (name, value) in values {
            if name != "__entity_type__" {
                self.set(type_name, &mut data, &mut members, name, value)?;
            }
        }
        fill_defaults(et, &mut data);
        self.fill_computed(type_name, &mut data)?;
        for name in et.required() {
            if matches!(attribute(et, name)?, Attribute::Stored(_))
                && data.get(name.as_str()).is_none_or(Value::is_null)
            {
                return Err(ApiError::bad_request(format!(
                    "{type_name}.{name} is required"
                )));
            }
        }
        let key = key_of(type_name, &data)?;
        let id = data.get("id").and_then(Value::as_str).map(str::to_string);
        let inserted = self
            .connection
            .execute(
                "INSERT INTO entity (type, pk, id, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (type, pk) DO NOTHING",
                params![type_name, key, id, Value::Object(data.clone()).to_string()],
            )
            .map_err(sql_error)?;
        if inserted == 0 {
            return Err(ApiError::bad_request(format!(
                "a {type_name} with key {key:?} already exists"
            )));
        }
        self.attach(id.as_deref(), type_name, members)?;
        Ok(present(type_name, &data))
    }

    /// Changes the `values` of the `type_name` with primary key `key`; returns its stored
    /// attributes afterwards.
    pub(crate) fn update(
        &self,
        type_name: &str,
        key: &[Value],
        values: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let key = key_text(key);
        let row = self.existing(type_name, &key)?;
        let et = entity_type(&row.ty)?;
        let mut data = row.data.clone();
        let mut members = Vec::new();
        for (name, value) in values {
            if name == "__entity_type__" {
                continue;
            }
            let before = data.get(name.as_str()).cloned();
            self.set(&row.ty, &mut data, &mut members, name, value)?;
            if et.is_immutable(name) && data.get(name.as_str()).cloned() != before {
                return Err(ApiError::bad_request(format!(
                    "{}.{name} cannot be changed (it is immutable)",
                    row.ty
                )));
            }
        }
        let id = data.get("id").and_then(Value::as_str).map(str::to_string);
        self.connection
            .execute(
                "UPDATE entity SET data = ?1, id = ?2 WHERE type = ?3 AND pk = ?4",
                params![Value::Object(data.clone()).to_string(), id, row.ty, key],
            )
            .map_err(sql_error)?;
        self.attach(id.as_deref(), &row.ty, members)?;
        Ok(present(&row.ty, &data))
    }

    /// Deletes the `type_name` with primary key `key`, and what it owns.
    pub(crate) fn delete(&self, type_name: &str, key: &[Value]) -> Result<(), ApiError> {
        let key = key_text(key);
        let row = self.existing(type_name, &key)?;
        self.connection
            .execute(
                "DELETE FROM entity WHERE type = ?1 AND pk = ?2",
                params![row.ty, key],
            )
            .map_err(sql_error)?;
        let mut owners: Vec<String> = row.id().map(str::to_string).into_iter().collect();
        while let Some(owner) = owners.pop() {
            for owning in OWNING_KEYS {
                let sql = format!(
                    "DELETE FROM entity WHERE json_extract(data, '$.{owning}') = ?1 RETURNING id"
                );
                let mut statement = self.connection.prepare_cached(&sql).map_err(sql_error)?;
                let owned = statement
                    .query_map([&owner], |r| r.get::<_, Option<String>>(0))
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(sql_error)?;
                owners.extend(owned.into_iter().flatten());
            }
        }
        Ok(())
    }

    /// The stored entity of `type_name` (or a subtype) with primary key `key`.
    fn existing(&self, type_name: &str, key: &str) -> Result<Row, ApiError> {
        entity_type(type_name)?;
        self.by_key(&concrete_types(type_name), key)?
            .ok_or_else(|| {
                ApiError::bad_request(format!("there is no {type_name} with key {key:?}"))
            })
    }

    /// Sets attribute `name` of an entity of `type_name` from the client's `value`.
    fn set(
        &self,
        type_name: &str,
        data: &mut Map<String, Value>,
        members: &mut Vec<Members>,
        name: &str,
        value: &Value,
    ) -> Result<(), ApiError> {
        let et = entity_type(type_name)?;
        match attribute(et, name)? {
            Attribute::Stored(scalar) => {
                data.insert(name.to_string(), stored(type_name, name, scalar, value)?);
            }
            Attribute::Reference { target, key } => {
                let id = match value {
                    Value::Null => Value::Null,
                    reference => {
                        let id = reference_id(type_name, name, reference)?;
                        if self.by_id(&referable_types(&target), &id)?.is_none() {
                            return Err(ApiError::bad_request(format!(
                                "{type_name}.{name}: there is no {target} with id {id:?}"
                            )));
                        }
                        Value::String(id)
                    }
                };
                data.insert(key, id);
            }
            Attribute::Collection { target, key } => {
                let Value::Array(items) = value else {
                    return Err(ApiError::bad_request(format!(
                        "{type_name}.{name} is a collection: give a list of {target} entities"
                    )));
                };
                let ids = items
                    .iter()
                    .map(|item| reference_id(type_name, name, item))
                    .collect::<Result<Vec<_>, _>>()?;
                members.push(Members { target, key, ids });
            }
            // The server works these out; what a client sends for them is not kept.
            Attribute::Computed => {}
        }
        Ok(())
    }

    /// Points the members of collections set on the entity `id` back at it.
    fn attach(
        &self,
        id: Option<&str>,
        type_name: &str,
        members: Vec<Members>,
    ) -> Result<(), ApiError> {
        for Members { target, key, ids } in members {
            let Some(id) = id else {
                return Err(ApiError::bad_request(format!(
                    "{type_name} has no id for its {target} members to point at"
                )));
            };
            for member in ids {
                let Some(mut row) = self.by_id(&concrete_types(&target), &member)? else {
                    return Err(ApiError::bad_request(format!(
                        "{type_name}: there is no {target} with id {member:?} to add"
                    )));
                };
                row.data.insert(key.clone(), Value::String(id.to_string()));
                self.connection
                    .execute(
                        "UPDATE entity SET data = ?1 WHERE type = ?2 AND id = ?3",
                        params![Value::Object(row.data).to_string(), row.ty, member],
                    )
                    .map_err(sql_error)?;
            }
        }
        Ok(())
    }

    /// What the server fills in on create: a version's number (one more than its asset's
    /// last), a component's `system_type`.
    fn fill_computed(
        &self,
        type_name: &str,
        data: &mut Map<String, Value>,
    ) -> Result<(), ApiError> {
        let et = entity_type(type_name)?;
        if type_name == "AssetVersion" && data.get("version").is_none_or(Value::is_null) {
            let asset = data.get("asset_id").cloned().unwrap_or(Value::Null);
            let last: Option<i64> = self
                .connection
                .query_row(
                    "SELECT max(json_extract(data, '$.version')) FROM entity
                     WHERE type = 'AssetVersion' AND json_extract(data, '$.asset_id') = ?1",
                    [asset.as_str().unwrap_or_default()],
                    |r| r.get(0),
                )
                .map_err(sql_error)?;
            data.insert("version".into(), Value::from(last.unwrap_or(0) + 1));
        }
        // The project an entity is in, from what it hangs under.
        if et.property("project_id").is_some() && data.get("project_id").is_none_or(Value::is_null)
        {
            for (key, owner) in [
                ("parent_id", "Context"),
                ("context_id", "Context"),
                ("asset_id", "Asset"),
            ] {
                let Some(id) = data.get(key).and_then(Value::as_str) else {
                    continue;
                };
                if let Some(owner) = self.by_id(&concrete_types(owner), id)? {
                    let project = if owner.ty == "Project" {
                        owner.id().map(|id| Value::String(id.to_string()))
                    } else {
                        owner.data.get("project_id").cloned()
                    };
                    if let Some(project) = project {
                        data.insert("project_id".into(), project);
                    }
                }
                break;
            }
        }
        // What ftrack's server fills in when a required value is not given.
        for name in et.required() {
            if data.get(name.as_str()).is_some_and(|v| !v.is_null())
                || !matches!(attribute(et, name), Ok(Attribute::Stored(_)))
            {
                continue;
            }
            let value = match name.as_str() {
                "bid" | "sort" => Some(Value::from(0)),
                "status" if type_name == "Project" => Some(Value::from("active")),
                "is_active" | "is_published" => Some(Value::Bool(true)),
                "resource_type" => Some(Value::from("user")),
                "status_id" => self.first_id("Status")?.map(Value::String),
                "type_id" => self.first_id("Type")?.map(Value::String),
                _ => None,
            };
            if let Some(value) = value {
                data.insert(name.clone(), value);
            }
        }
        let system_type = match type_name {
            "FileComponent" => Some("file"),
            "SequenceComponent" => Some("sequence"),
            "ContainerComponent" => Some("container"),
            _ => None,
        };
        if let Some(system_type) = system_type {
            data.entry("system_type")
                .or_insert_with(|| Value::String(system_type.into()));
        }
        Ok(())
    }
}

impl Store<'_> {
    /// The id of the first `type_name` made (the default status, the generic task type).
    fn first_id(&self, type_name: &str) -> Result<Option<String>, ApiError> {
        self.connection
            .query_row(
                "SELECT id FROM entity WHERE type = ?1 ORDER BY rowid LIMIT 1",
                [type_name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)
    }
}

/// Fills the schema's defaults for what the client did not send (`{uid}`: a new id).
fn fill_defaults(et: &crate::schema::EntityType, data: &mut Map<String, Value>) {
    for property in et.properties() {
        let Some(default) = property.default() else {
            continue;
        };
        if !matches!(attribute(et, property.name()), Ok(Attribute::Stored(_)))
            || data.contains_key(property.name())
        {
            continue;
        }
        let value = match default {
            Value::String(text) if text == "{uid}" => {
                Value::String(uuid::Uuid::new_v4().to_string())
            }
            other => other.clone(),
        };
        data.insert(property.name().to_string(), value);
    }
}

/// The `pk` text of an entity of `type_name` holding `data`.
fn key_of(type_name: &str, data: &Map<String, Value>) -> Result<String, ApiError> {
    let et = entity_type(type_name)?;
    let values = et
        .primary_key()
        .iter()
        .map(|name| match data.get(name.as_str()) {
            Some(value) if !value.is_null() => Ok(value.clone()),
            _ => Err(ApiError::bad_request(format!(
                "{type_name}.{name} is part of its primary key and must be given"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(key_text(&values))
}

/// The id a reference value (`{"__entity_type__": T, "id": ...}`) points at.
fn reference_id(type_name: &str, name: &str, value: &Value) -> Result<String, ApiError> {
    match value.get("id") {
        Some(Value::String(id)) => Ok(id.clone()),
        _ => Err(ApiError::bad_request(format!(
            "{type_name}.{name}: {value} is not a reference to an entity (an object with \
             \"__entity_type__\" and \"id\")"
        ))),
    }
}

/// The stored form of a client's scalar `value`, or why it does not fit.
fn stored(type_name: &str, name: &str, scalar: Scalar, value: &Value) -> Result<Value, ApiError> {
    let fits = match (scalar, value) {
        (_, Value::Null) | (Scalar::Any, _) => true,
        (Scalar::Text, Value::String(_)) | (Scalar::Boolean, Value::Bool(_)) => true,
        (Scalar::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Scalar::Number, Value::Number(_)) => true,
        (Scalar::DateTime, Value::String(_)) => true,
        (Scalar::DateTime, Value::Object(object)) => {
            return match object.get("value") {
                Some(Value::String(text)) => Ok(Value::String(text.clone())),
                _ => Err(ApiError::bad_request(format!(
                    "{type_name}.{name}: {value} is not a date"
                ))),
            }
        }
        _ => false,
    };
    if fits {
        Ok(value.clone())
    } else {
        let wanted = match scalar {
            Scalar::Text => "text",
            Scalar::DateTime => "a date",
            Scalar::Boolean => "true or false",
            Scalar::Integer => "an integer",
            Scalar::Number => "a number",
            Scalar::Any => "JSON",
        };
        Err(ApiError::bad_request(format!(
            "{type_name}.{name} must be {wanted}, not {value}"
        )))
    }
}

/// An entity as written, for the client: its type and stored attributes, dates in ftrack's
/// encoded form.
fn present(type_name: &str, data: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        "__entity_type__".into(),
        Value::String(type_name.to_string()),
    );
    let et = entity_type(type_name).ok();
    for (name, value) in data {
        let is_date = et.is_some_and(|et| {
            matches!(attribute(et, name), Ok(Attribute::Stored(Scalar::DateTime)))
        });
        out.insert(name.clone(), encode_stored(is_date, value));
    }
    Value::Object(out)
}

/// A stored value as the clients read it: dates as `{"__type__": "datetime", "value": ...}`.
pub(super) fn encode_stored(is_date: bool, value: &Value) -> Value {
    match value {
        Value::String(text) if is_date => {
            serde_json::json!({"__type__": "datetime", "value": text})
        }
        other => other.clone(),
    }
}
