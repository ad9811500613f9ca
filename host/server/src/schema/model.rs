//! The entity types of a [`SchemaSet`](super::SchemaSet): what ftrack's schema form says about
//! each type and property, plus what the server needs beyond it (how references and
//! collections are stored, and which types are subtypes of which).

use std::collections::HashMap;
use std::fmt::{self, Display, Formatter};

use serde_json::{Map, Value};

/// The `type` of a scalar property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// `string` (a date-time when the format is [`Format::DateTime`]).
    String,
    /// `boolean`.
    Boolean,
    /// `integer`.
    Integer,
    /// `number`: a float for the Python client.
    Number,
    /// `variable`: any JSON value (custom attribute values, their defaults).
    Variable,
    /// `object`: a JSON object computed by the server (`thumbnail_url`, `url`).
    Object,
}

impl ScalarType {
    /// ftrack's spelling, as in the `type` key.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::String => "string",
            ScalarType::Boolean => "boolean",
            ScalarType::Integer => "integer",
            ScalarType::Number => "number",
            ScalarType::Variable => "variable",
            ScalarType::Object => "object",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "string" => ScalarType::String,
            "boolean" => ScalarType::Boolean,
            "integer" => ScalarType::Integer,
            "number" => ScalarType::Number,
            "variable" => ScalarType::Variable,
            "object" => ScalarType::Object,
            _ => return None,
        })
    }
}

/// The `format` of a scalar property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `date-time`: an ISO 8601 date and time (`{"__type__": "datetime"}` on the wire).
    DateTime,
    /// `foreign_key`: holds the key of another entity (the description usually names it).
    ForeignKey,
    /// `json`: a string holding JSON (`Job.data`).
    Json,
}

impl Format {
    /// ftrack's spelling, as in the `format` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DateTime => "date-time",
            Format::ForeignKey => "foreign_key",
            Format::Json => "json",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "date-time" => Format::DateTime,
            "foreign_key" => Format::ForeignKey,
            "json" => Format::Json,
            _ => return None,
        })
    }
}

/// How a mapped collection (`type: mapped_array`) turns its items into a mapping: the item
/// attribute used as key and the one used as value (`key_value_attributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The items' attribute that is the mapping's key (`key` for `Metadata`).
    pub key: String,
    /// The items' attribute that is the mapping's value (`value` for `Metadata`).
    pub value: String,
}

/// What a property holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyKind {
    /// A plain value. `ty` is `None` only where ftrack gives no `type` at all
    /// (`User.user_type_id`, a foreign key read as a string).
    Scalar {
        /// The `type` key, if any.
        ty: Option<ScalarType>,
        /// The `format` key, if any.
        format: Option<Format>,
    },
    /// One entity of type `target` (`{"$ref": target}`).
    Reference {
        /// The referenced entity type.
        target: String,
    },
    /// A list of entities of type `target` (`{"type": "array", "items": {"$ref": target}}`).
    Collection {
        /// The entity type of the items.
        target: String,
    },
    /// A key/value collection of entities of type `target` (`type: mapped_array`), such as
    /// `metadata` or `custom_attributes`.
    MappedCollection {
        /// The entity type of the items.
        target: String,
        /// `key_value_attributes`; `None` where ftrack gives none (restricted link arrays).
        key_value: Option<KeyValue>,
    },
}

impl PropertyKind {
    /// The entity type a reference or (mapped) collection leads to; `None` for scalars.
    pub fn target(&self) -> Option<&str> {
        match self {
            PropertyKind::Scalar { .. } => None,
            PropertyKind::Reference { target }
            | PropertyKind::Collection { target }
            | PropertyKind::MappedCollection { target, .. } => Some(target),
        }
    }
}

/// One property of an entity type, with every key ftrack's schema form gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub(crate) name: String,
    pub(crate) kind: PropertyKind,
    pub(crate) default: Option<Value>,
    pub(crate) alias_for: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) restricted: bool,
    pub(crate) enum_values: Option<Vec<String>>,
    pub(crate) transform: Option<Vec<(String, String)>>,
}

impl Property {
    /// The attribute name clients use (`project_id`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the property holds.
    pub fn kind(&self) -> &PropertyKind {
        &self.kind
    }

    /// The value a client fills in when it creates an entity without this attribute: a
    /// string (`"{uid}"` means a new uuid4), a number, a boolean or null.
    pub fn default(&self) -> Option<&Value> {
        self.default.as_ref()
    }

    /// `true` when the default is `"{uid}"`: a new uuid4 for every entity.
    pub fn default_is_uid(&self) -> bool {
        self.default.as_ref().and_then(Value::as_str) == Some("{uid}")
    }

    /// The name of the attribute in ftrack's own storage (`alias_for`, e.g. `showid` for
    /// `project_id`); system projections and classifiers use these names.
    pub fn alias_for(&self) -> Option<&str> {
        self.alias_for.as_deref()
    }

    /// The `description`, such as `Foreign key(s): Project.id`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// `restricted_projection`: clients skip it when they load "all attributes".
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// The allowed values (`enum`), where ftrack lists them (`Job.status`).
    pub fn enum_values(&self) -> Option<&[String]> {
        self.enum_values.as_deref()
    }

    /// `transform`: how the value is translated between client and server (`parent_type`:
    /// `client: {schema_id}`, `server: {table_name}`), as (side, pattern) pairs.
    pub fn transform(&self) -> Option<&[(String, String)]> {
        self.transform.as_deref()
    }

    /// The property in ftrack's schema form, as `query_schemas` sends it.
    pub fn to_json(&self) -> Value {
        let mut json = Map::new();
        match &self.kind {
            PropertyKind::Scalar { ty, format } => {
                if let Some(ty) = ty {
                    json.insert("type".into(), ty.as_str().into());
                }
                if let Some(format) = format {
                    json.insert("format".into(), format.as_str().into());
                }
            }
            PropertyKind::Reference { target } => {
                json.insert("$ref".into(), target.as_str().into());
            }
            PropertyKind::Collection { target } => {
                json.insert("type".into(), "array".into());
                json.insert("items".into(), items(target));
            }
            PropertyKind::MappedCollection { target, key_value } => {
                json.insert("type".into(), "mapped_array".into());
                json.insert("items".into(), items(target));
                if let Some(kv) = key_value {
                    let mut attributes = Map::new();
                    attributes.insert("key".into(), kv.key.as_str().into());
                    attributes.insert("value".into(), kv.value.as_str().into());
                    json.insert("key_value_attributes".into(), attributes.into());
                }
            }
        }
        if let Some(default) = &self.default {
            json.insert("default".into(), default.clone());
        }
        if let Some(values) = &self.enum_values {
            json.insert("enum".into(), values.clone().into());
        }
        if let Some(alias) = &self.alias_for {
            json.insert("alias_for".into(), alias.as_str().into());
        }
        if let Some(description) = &self.description {
            json.insert("description".into(), description.as_str().into());
        }
        if self.restricted {
            json.insert("restricted_projection".into(), true.into());
        }
        if let Some(transform) = &self.transform {
            let pairs: Map<String, Value> = transform
                .iter()
                .map(|(side, pattern)| (side.clone(), pattern.as_str().into()))
                .collect();
            json.insert("transform".into(), pairs.into());
        }
        json.into()
    }
}

fn items(target: &str) -> Value {
    let mut items = Map::new();
    items.insert("$ref".into(), target.into());
    items.into()
}

/// A type-level `alias_for`: the ftrack storage type behind an entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeAlias {
    /// The string form: `"alias_for": "Show"` (Project).
    Name(String),
    /// The object form: `{"id": "Task", "classifiers": {"object_typeid": "…"}}`. The type is
    /// the rows of `id`'s storage whose attributes (named by their `alias_for`) have these
    /// values.
    Classified {
        /// The storage type (`Task` for every TypedContext subtype).
        id: String,
        /// The (attribute alias, value) pairs that select this type's rows.
        classifiers: Vec<(String, String)>,
    },
}

impl TypeAlias {
    /// The storage type's name: the string, or the object form's `id`.
    pub fn id(&self) -> &str {
        match self {
            TypeAlias::Name(id) | TypeAlias::Classified { id, .. } => id,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            TypeAlias::Name(id) => id.as_str().into(),
            TypeAlias::Classified { id, classifiers } => {
                let mut json = Map::new();
                json.insert("id".into(), id.as_str().into());
                let classifiers: Map<String, Value> = classifiers
                    .iter()
                    .map(|(key, value)| (key.clone(), value.as_str().into()))
                    .collect();
                json.insert("classifiers".into(), classifiers.into());
                json.into()
            }
        }
    }
}

/// How the server stores a reference (a `$ref` property). Not part of ftrack's schema form:
/// worked out from it at load time, or written in the data files (`via`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceLink {
    /// The named scalar property of the same type holds the target's primary key
    /// (`parent` → `parent_id`, `Asset.parent` → `context_id`).
    ForeignKey(String),
    /// The server computes it (listed in `computed`, e.g. `Asset.latest_version`).
    Computed,
    /// No property of the schema holds the key (`Status.state`): storage keeps its own.
    Private,
}

/// How the server finds the members of a collection or mapped collection. Not part of ftrack's
/// schema form: worked out from it at load time, or written in the data files (`via`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionLink {
    /// The members are the target entities whose property `foreign_key` holds this entity's
    /// primary key, and whose properties have the `filter` values
    /// (`Context.children` → `parent_id`; `Context.assignments` → `context_id` with
    /// `type` = `assignment`).
    BackReference {
        /// The property of the target type pointing back at the owner.
        foreign_key: String,
        /// (property, value) pairs the members must also have.
        filter: Vec<(String, String)>,
    },
    /// The members are joined through a link type: rows of `link_type` whose `owner_key`
    /// holds this entity's key name the members by `member_key`
    /// (`TypedContextList.items` → `ListObject.list_id` / `ListObject.entity_id`).
    Through {
        /// The link entity type (`ListObject`).
        link_type: String,
        /// Its property holding the owner's key.
        owner_key: String,
        /// Its property holding the member's key.
        member_key: String,
    },
    /// The server computes the members (`ancestors`, `descendants`).
    Computed,
    /// No type of the schema holds the link (`Context.scopes`): storage keeps its own.
    Private,
}

/// One entity type: ftrack's schema for it, plus how its references and collections are
/// stored and where it sits among subtypes.
#[derive(Debug, Clone)]
pub struct EntityType {
    pub(crate) name: String,
    pub(crate) alias_for: Option<TypeAlias>,
    pub(crate) primary_key: Vec<String>,
    pub(crate) required: Vec<String>,
    pub(crate) immutable: Vec<String>,
    pub(crate) default_projections: Vec<String>,
    pub(crate) system_projections: Option<Vec<String>>,
    pub(crate) computed: Option<Vec<String>>,
    pub(crate) properties: Vec<Property>,
    pub(crate) index: HashMap<String, usize>,
    pub(crate) supertype: Option<String>,
    pub(crate) discriminator: Vec<(String, String)>,
    pub(crate) references: HashMap<String, ReferenceLink>,
    pub(crate) collections: HashMap<String, CollectionLink>,
}

impl EntityType {
    /// The type's name (`id` in ftrack's form): `Task`, `AssetVersion`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type-level `alias_for`, if any.
    pub fn alias_for(&self) -> Option<&TypeAlias> {
        self.alias_for.as_ref()
    }

    /// `primary_key`: the attributes identifying an entity, in order.
    pub fn primary_key(&self) -> &[String] {
        &self.primary_key
    }

    /// `required`: attributes an entity must have.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// `immutable`: attributes that cannot change once set. Some entries are not properties
    /// of the type (`TypedContextList` lists `type`).
    pub fn immutable(&self) -> &[String] {
        &self.immutable
    }

    /// `default_projections`: what `session.query('T')` loads.
    pub fn default_projections(&self) -> &[String] {
        &self.default_projections
    }

    /// `system_projections` (empty when ftrack gives none). They are storage names
    /// (`showid`), resolved with [`EntityType::property_for_alias`]; some are not
    /// properties at all (`_casted_value`, `permissionid`).
    pub fn system_projections(&self) -> &[String] {
        self.system_projections.as_deref().unwrap_or(&[])
    }

    /// `computed`: attributes the server computes (empty when ftrack gives none).
    pub fn computed(&self) -> &[String] {
        self.computed.as_deref().unwrap_or(&[])
    }

    /// The properties, in the schema set's order.
    pub fn properties(&self) -> &[Property] {
        &self.properties
    }

    /// The property called `name`.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.index.get(name).map(|&i| &self.properties[i])
    }

    /// The property stored under the storage name `alias`: the first whose `alias_for` is
    /// `alias`, else the property called `alias` if it has no `alias_for`
    /// (`showid` → `project_id`, `context_type` → `context_type`). Several properties may
    /// share one storage name (`link` and `_link`); the first in order is returned.
    pub fn property_for_alias(&self, alias: &str) -> Option<&Property> {
        self.properties
            .iter()
            .find(|p| p.alias_for.as_deref() == Some(alias))
            .or_else(|| self.property(alias).filter(|p| p.alias_for.is_none()))
    }

    /// `true` if `name` is listed in `immutable`.
    pub fn is_immutable(&self, name: &str) -> bool {
        self.immutable.iter().any(|n| n == name)
    }

    /// `true` if `name` is listed in `required`.
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().any(|n| n == name)
    }

    /// `true` if `name` is listed in `computed`.
    pub fn is_computed(&self, name: &str) -> bool {
        self.computed().iter().any(|n| n == name)
    }

    /// The direct supertype: the type a query on which also returns this one
    /// (`TypedContext` for `Task`, `Context` for `Project`, `Component` for `FileComponent`).
    pub fn supertype(&self) -> Option<&str> {
        self.supertype.as_deref()
    }

    /// The (property, value) pairs that tell this type's entities apart from its supertype's
    /// other subtypes (`object_type_id` for `Task`, `context_type` = `show` for `Project`,
    /// `system_type` = `file` for `FileComponent`). Empty for types without a supertype.
    pub fn discriminator(&self) -> &[(String, String)] {
        &self.discriminator
    }

    /// How the reference `name` is stored; `None` if `name` is not a reference.
    pub fn reference_link(&self, name: &str) -> Option<&ReferenceLink> {
        self.references.get(name)
    }

    /// The property of this type holding the key of the entity that reference `name` points
    /// at (`parent` → `parent_id`; `Asset.parent` → `context_id`). `None` if `name` is not
    /// a reference, or is computed or kept privately by storage.
    pub fn foreign_key_for(&self, reference: &str) -> Option<&str> {
        match self.references.get(reference)? {
            ReferenceLink::ForeignKey(key) => Some(key),
            ReferenceLink::Computed | ReferenceLink::Private => None,
        }
    }

    /// How the members of collection `name` are found; `None` if `name` is not a collection.
    pub fn collection_link(&self, name: &str) -> Option<&CollectionLink> {
        self.collections.get(name)
    }

    /// The property of the collection's target type that points back at this entity
    /// (`Asset.versions` → `asset_id` on `AssetVersion`). `None` unless the collection is a
    /// [`CollectionLink::BackReference`] (whose filter, if any, this does not show).
    pub fn back_reference_for(&self, collection: &str) -> Option<&str> {
        match self.collections.get(collection)? {
            CollectionLink::BackReference { foreign_key, .. } => Some(foreign_key),
            _ => None,
        }
    }

    /// The type in ftrack's schema form, as `query_schemas` sends it.
    pub fn to_json(&self) -> Value {
        let strings = |list: &[String]| Value::from(list.to_vec());
        let mut json = Map::new();
        json.insert("id".into(), self.name.as_str().into());
        json.insert("type".into(), "object".into());
        json.insert("primary_key".into(), strings(&self.primary_key));
        json.insert("required".into(), strings(&self.required));
        json.insert("immutable".into(), strings(&self.immutable));
        json.insert(
            "default_projections".into(),
            strings(&self.default_projections),
        );
        if let Some(list) = &self.system_projections {
            json.insert("system_projections".into(), strings(list));
        }
        if let Some(list) = &self.computed {
            json.insert("computed".into(), strings(list));
        }
        if let Some(alias) = &self.alias_for {
            json.insert("alias_for".into(), alias.to_json());
        }
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|p| (p.name.clone(), p.to_json()))
            .collect();
        json.insert("properties".into(), properties.into());
        json.into()
    }
}

impl Display for EntityType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
