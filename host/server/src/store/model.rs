//! What the store needs to know of the entity types, in one place: the attributes of a type
//! as the store reads and writes them (a stored value, a reference through a foreign key, a
//! collection through the foreign key its members hold, or an attribute the server computes),
//! and which concrete types a type stands for.

use crate::error::ApiError;
use crate::schema::{EntityType, Format, PropertyKind, ScalarType, SchemaSet};

/// A scalar attribute's JSON type, as the schemas name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Text,
    DateTime,
    Boolean,
    Integer,
    Number,
    /// `variable` and `object`: any JSON.
    Any,
}

/// One attribute of a type, as the store treats it.
#[derive(Debug, Clone)]
pub(crate) enum Attribute {
    /// Kept in the entity's data under its own name.
    Stored(Scalar),
    /// Another entity, kept as the foreign key `key` (`parent` → `parent_id`).
    Reference { target: String, key: String },
    /// The entities of type `target` whose foreign key `key` holds this entity's id.
    Collection { target: String, key: String },
    /// Worked out by the server when read (`context_type`, `link`, ...).
    Computed,
}

/// Attributes the server works out although the schemas do not list them as computed.
const SERVER_COMPUTED: &[&str] = &["context_type", "link", "_link", "is_latest_version"];

/// The schema set the server serves.
pub(crate) fn schemas() -> &'static SchemaSet {
    SchemaSet::builtin()
}

/// The type `name`, or an error naming it.
pub(crate) fn entity_type(name: &str) -> Result<&'static EntityType, ApiError> {
    schemas()
        .get(name)
        .ok_or_else(|| ApiError::bad_request(format!("unknown entity type {name:?}")))
}

/// The concrete types stored for `name`: itself when it is concrete, else its subtypes
/// (`TypedContext` → `Task`, `Shot`, ...; `Context` → those and `Project`).
pub(crate) fn concrete_types(name: &str) -> Vec<String> {
    let types: Vec<String> = schemas()
        .concrete_types_of(name)
        .into_iter()
        .map(|t| t.name().to_string())
        .collect();
    if types.is_empty() {
        vec![name.to_string()]
    } else {
        types
    }
}

/// The types an entity may have where a reference points at `name`: its concrete types,
/// and a `SequenceComponent` where a `ContainerComponent` is expected. In ftrack a sequence
/// is a container (its members' `container` points at it); this server stores the two as
/// siblings under `Component`, so that a query on either returns its own kind only.
pub(crate) fn referable_types(name: &str) -> Vec<String> {
    let mut types = concrete_types(name);
    if name == "ContainerComponent" {
        types.extend(concrete_types("SequenceComponent"));
    }
    types
}

/// Whether entities of exactly `name` can be stored (not an abstract base like `Context`).
pub(crate) fn is_concrete(name: &str) -> bool {
    concrete_types(name).iter().any(|t| t == name)
}

/// The attribute `name` of `entity_type`, or an error naming both.
pub(crate) fn attribute(entity_type: &EntityType, name: &str) -> Result<Attribute, ApiError> {
    let property = entity_type.property(name).ok_or_else(|| {
        ApiError::bad_request(format!("{} has no attribute {name:?}", entity_type.name()))
    })?;
    if entity_type.is_computed(name) || SERVER_COMPUTED.contains(&name) {
        return Ok(Attribute::Computed);
    }
    Ok(match property.kind() {
        PropertyKind::Scalar { ty, format } => Attribute::Stored(scalar(
            ty.map_or("", ScalarType::as_str),
            format.map(Format::as_str),
        )),
        PropertyKind::Reference { target } => match entity_type.foreign_key_for(name) {
            Some(key) => Attribute::Reference {
                target: target.to_string(),
                key: key.to_string(),
            },
            None => Attribute::Computed,
        },
        PropertyKind::Collection { target } | PropertyKind::MappedCollection { target, .. } => {
            match schemas().back_reference(entity_type.name(), name) {
                Some(key) => Attribute::Collection {
                    target: target.to_string(),
                    key: key.to_string(),
                },
                None => Attribute::Computed,
            }
        }
    })
}

fn scalar(ty: &str, format: Option<&str>) -> Scalar {
    match (ty, format) {
        ("string", Some("date-time")) => Scalar::DateTime,
        ("string", _) => Scalar::Text,
        ("boolean", _) => Scalar::Boolean,
        ("integer", _) => Scalar::Integer,
        ("number", _) => Scalar::Number,
        _ => Scalar::Any,
    }
}
