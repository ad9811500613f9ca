//! ftrack's entity types: the schema set this server answers `query_schemas` with, and what
//! the query compiler, validation and storage need to know about each type.
//!
//! The set is written in this project's own compact text format, in `host/server/schema/`
//! (one file per family: contexts, assets, components, …), embedded in the binary and read
//! once ([`SchemaSet::builtin`]). [`SchemaSet::to_json`] turns it into ftrack's JSON form, and
//! [`SchemaSet::hash`] is the md5 that clients compare with their cached copy (see
//! [`python_json`]). The content follows the schemas of a real ftrack server (ftrack's
//! `ftrack-javascript` test fixture, Apache-2.0): same names, kinds, defaults, aliases,
//! descriptions and lists, for the types this server covers. A property that refers to a type
//! the set does not have is left out.
//!
//! # The format
//!
//! ```text
//! # A comment: a word starting with `#`, to the end of the line.
//! type Task                                  # starts a type block (ends at the next `type`)
//!     like TypedContext                      # copy TypedContext's properties and `via` lines
//!     alias_for Task object_typeid=11c137c0-ee7e-4f9c-91c5-8c77cec22b2c
//!     primary_key id
//!     required bid status_id type_id priority_id object_type_id sort context_type id name
//!     immutable object_type_id object_type bid_time_logged_difference time_logged id
//!     immutable _link link thumbnail_url created_by_id created_by created_at
//!     default_projections context_type id name
//!     system_projections showid context_type
//!     computed time_logged bid_time_logged_difference thumbnail_url
//!
//!     object_type_id: string/foreign_key = "11c137c0-…" @object_typeid "Foreign key(s): ObjectType.id"
//!     priority_id:    string/foreign_key = "9661b320-…" @priorityid "Foreign key(s): Priority.id"
//! ```
//!
//! Indentation and blank lines are free; one definition per line.
//!
//! **Type lines** (ftrack's type-level keys, written as in the JSON):
//! - `primary_key`, `required`, `immutable`, `default_projections`, `system_projections`,
//!   `computed`, each followed by names in ftrack's order. Writing the keyword again appends
//!   (for long lists). `primary_key` is mandatory; the first four are always sent (empty when
//!   not written); `system_projections` and `computed` are sent only when written (a line with
//!   no names sends an empty list).
//! - `alias_for Show` is the string form; `alias_for Task object_typeid=<uuid>` (one or more
//!   `name=value` classifiers) is the object form `{"id": "Task", "classifiers": {…}}`.
//! - `like <Type>` (before any property) starts the type with a copy of the properties and
//!   `via` lines of a type defined earlier (in this file or an earlier one). A property line
//!   with the same name then replaces the copy in place; new names are added at the end.
//!   Type lines are never copied: write them in full.
//!
//! **Property lines**: `<name>: <kind> [modifiers]`, one per property, in the order they are
//! sent.
//! - Kinds: `string`, `boolean`, `integer`, `number`, `variable`, `object`, optionally with a
//!   format: `string/date-time`, `string/foreign_key`, `integer/foreign_key`, `string/json`.
//!   `-` stands for "no `type` key" (`-/foreign_key`: ftrack's `User.user_type_id`).
//!   `-> Type` is a reference (`{"$ref": "Type"}`); `[Type]` a collection
//!   (`{"type": "array", "items": {"$ref": "Type"}}`); `{Type key=value}` a mapped
//!   collection (`type: mapped_array`, with `key_value_attributes` `{"key": "key", "value":
//!   "value"}`); `{Type}` the same without `key_value_attributes`.
//! - Modifiers, in any order: `= <JSON value>` the default (`= "{uid}"`, `= ""`, `= 0`,
//!   `= false`, `= null`); `@name` the property's `alias_for`; `"text"` (a JSON string) the
//!   `description`; `restricted` for `restricted_projection: true`; `enum=a,b,c` (string
//!   values); `transform.<side>=<pattern>`, once per key of the `transform` object.
//!   Values may be JSON strings where they hold spaces (`@"x y"`).
//!
//! **Server-only lines** (not sent to clients; they say what ftrack's JSON leaves implicit):
//! - `subtype_of <Type> [property=value ...]`: a query on `<Type>` also returns this type,
//!   whose entities have these property values (`subtype_of Context context_type=show` in
//!   `Project`). Not needed where ftrack's schema says it: a classified `alias_for`
//!   (`alias_for Task object_typeid=…` makes a subtype of the type that is `alias_for Task`,
//!   here TypedContext, with `object_type_id` as discriminator) or a primary key described
//!   as `Foreign key(s): <Type>.id` (`FileComponent.id` → Component). When written as well, it
//!   must name the same supertype, and its values are added to the discriminator.
//! - `via <reference> <property>`: the property holding the reference's key
//!   (`via parent context_id` in Asset); `via <reference> computed | private`.
//!   Without it: `computed` if listed in `computed`, else `<reference>_id`, else the property
//!   whose `alias_for` is the reference's `alias_for` + `id` (`owner` @user → `user_id`
//!   @userid).
//! - `via <collection> <Target>.<key> [property=value ...]`: the members are the `Target`
//!   entities whose `key` holds this entity's key (and that have these values);
//!   `via <collection> <Link>.<owner_key> <Link>.<member_key>`: members joined through a link
//!   type (`via lists ListObject.entity_id ListObject.list_id`);
//!   `via <collection> computed | private`. Without it: `computed` if listed in `computed`,
//!   else the target's one reference back to this type or its nearest supertype
//!   (`Asset.versions` → `AssetVersion.asset` → `asset_id`), else the target's one foreign
//!   key described `Foreign key(s): <this type or supertype>.id`, else the target's
//!   `parent_id` if it also has `parent_type` (Metadata, Note, StatusChange).
//!
//! Loading fails, naming file and line, on anything it cannot read or work out: an unknown
//! kind or modifier, a `$ref` to a type not in the set, a reference or collection whose
//! storage cannot be told (add a `via`), a `like` or `subtype_of` naming an unknown type.

mod model;
mod parse;
pub mod python_json;
mod resolve;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_links;

use std::collections::HashMap;
use std::sync::OnceLock;

use md5::{Digest, Md5};
use serde_json::Value;

pub use model::{
    CollectionLink, EntityType, Format, KeyValue, Property, PropertyKind, ReferenceLink,
    ScalarType, TypeAlias,
};
pub use python_json::python_json_dumps_sorted;

pub(crate) use parse::SchemaError;

/// The data files of the built-in set, in order (a `like` may only name an earlier type).
const BUILTIN: &[(&str, &str)] = &[
    (
        "schema/contexts.schema",
        include_str!("../../schema/contexts.schema"),
    ),
    (
        "schema/assets.schema",
        include_str!("../../schema/assets.schema"),
    ),
    (
        "schema/components.schema",
        include_str!("../../schema/components.schema"),
    ),
    (
        "schema/workflows.schema",
        include_str!("../../schema/workflows.schema"),
    ),
    (
        "schema/users.schema",
        include_str!("../../schema/users.schema"),
    ),
    (
        "schema/notes.schema",
        include_str!("../../schema/notes.schema"),
    ),
    (
        "schema/attributes.schema",
        include_str!("../../schema/attributes.schema"),
    ),
    (
        "schema/lists.schema",
        include_str!("../../schema/lists.schema"),
    ),
];

/// A set of entity types, in a stable order (the order of the data files and, within each,
/// of the definitions).
#[derive(Debug)]
pub struct SchemaSet {
    types: Vec<EntityType>,
    index: HashMap<String, usize>,
    subtypes: HashMap<String, Vec<usize>>,
    hash: String,
}

impl SchemaSet {
    /// The set this server serves, read from the embedded data files on first use.
    ///
    /// # Panics
    ///
    /// If a data file is malformed, with the file and line in the message (the tests make
    /// sure the embedded files are not).
    pub fn builtin() -> &'static SchemaSet {
        static SET: OnceLock<SchemaSet> = OnceLock::new();
        SET.get_or_init(|| Self::load(BUILTIN))
    }

    /// Reads `(file name, text)` data files, panicking with `file:line: why` if one is
    /// malformed.
    pub(crate) fn load(sources: &[(&str, &str)]) -> SchemaSet {
        match Self::from_sources(sources) {
            Ok(set) => set,
            Err(error) => panic!("invalid entity schema data: {error}"),
        }
    }

    /// Reads `(file name, text)` data files into a set.
    pub(crate) fn from_sources(sources: &[(&str, &str)]) -> Result<SchemaSet, SchemaError> {
        let raw = parse::parse(sources)?;
        let resolve::Resolved { types, index } = resolve::resolve(raw)?;
        let mut subtypes: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, ty) in types.iter().enumerate() {
            if let Some(parent) = &ty.supertype {
                subtypes.entry(parent.clone()).or_default().push(i);
            }
        }
        let mut set = SchemaSet {
            types,
            index,
            subtypes,
            hash: String::new(),
        };
        let text = python_json_dumps_sorted(&set.to_json());
        set.hash = format!("{:x}", Md5::digest(text.as_bytes()));
        Ok(set)
    }

    /// Every type, in the set's order.
    pub fn types(&self) -> &[EntityType] {
        &self.types
    }

    /// The type called `name` (exact case, as ftrack spells it).
    pub fn get(&self, name: &str) -> Option<&EntityType> {
        self.index.get(name).map(|&i| &self.types[i])
    }

    /// The set in ftrack's form: the list `query_schemas` answers with.
    pub fn to_json(&self) -> Value {
        Value::Array(self.types.iter().map(EntityType::to_json).collect())
    }

    /// The `schema_hash` of `query_server_information`: the md5 (lowercase hex) of Python's
    /// `json.dumps(schemas, sort_keys=True)` of [`SchemaSet::to_json`], as clients compute it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// [`EntityType::back_reference_for`] of type `type_name`'s collection `collection`: the
    /// property of the members pointing back (`("Asset", "versions")` → `asset_id`).
    pub fn back_reference(&self, type_name: &str, collection: &str) -> Option<&str> {
        self.get(type_name)?.back_reference_for(collection)
    }

    /// Every property that some reference or collection of the set is looked up by (foreign
    /// keys, back references and the keys of link types), in the set's order, repeats
    /// included: what storage indexes.
    pub fn foreign_keys(&self) -> impl Iterator<Item = &str> {
        self.types.iter().flat_map(|ty| {
            ty.properties.iter().flat_map(move |property| {
                let name = property.name.as_str();
                let mut keys: Vec<&str> = Vec::new();
                if let Some(ReferenceLink::ForeignKey(key)) = ty.references.get(name) {
                    keys.push(key);
                }
                match ty.collections.get(name) {
                    Some(CollectionLink::BackReference {
                        foreign_key,
                        filter,
                    }) => {
                        keys.push(foreign_key);
                        keys.extend(filter.iter().map(|(key, _)| key.as_str()));
                    }
                    Some(CollectionLink::Through {
                        owner_key,
                        member_key,
                        ..
                    }) => keys.extend([owner_key.as_str(), member_key.as_str()]),
                    _ => {}
                }
                keys
            })
        })
    }

    /// The direct subtypes of `name`, in the set's order (empty for unknown types).
    pub fn subtypes_of(&self, name: &str) -> Vec<&EntityType> {
        self.subtypes
            .get(name)
            .map(|list| list.iter().map(|&i| &self.types[i]).collect())
            .unwrap_or_default()
    }

    /// The supertypes of `name`, nearest first (`Task` → TypedContext, Context).
    pub fn supertypes_of(&self, name: &str) -> Vec<&EntityType> {
        let mut chain = Vec::new();
        let mut at = self.get(name);
        while let Some(up) = at.and_then(|t| t.supertype()).and_then(|n| self.get(n)) {
            chain.push(up);
            at = Some(up);
        }
        chain
    }

    /// `true` if `name` is `ancestor` or one of its subtypes, at any depth.
    pub fn is_a(&self, name: &str, ancestor: &str) -> bool {
        let itself = name == ancestor && self.get(name).is_some();
        itself
            || self
                .supertypes_of(name)
                .iter()
                .any(|t| t.name() == ancestor)
    }

    /// The types of the entities a query on `name` returns: the types without subtypes under
    /// it, at any depth, in the set's order (`Context` → Project, Task, Shot, …; `Component`
    /// → FileComponent, SequenceComponent, ContainerComponent); `name` itself when it has no
    /// subtypes; empty for unknown types.
    pub fn concrete_types_of(&self, name: &str) -> Vec<&EntityType> {
        let mut found = Vec::new();
        if let Some(&i) = self.index.get(name) {
            self.collect_concrete(i, &mut found);
        }
        found.sort_by_key(|&i| i);
        found.into_iter().map(|i| &self.types[i]).collect()
    }

    fn collect_concrete(&self, i: usize, found: &mut Vec<usize>) {
        match self.subtypes.get(&self.types[i].name) {
            None => found.push(i),
            Some(children) => {
                for &child in children {
                    self.collect_concrete(child, found);
                }
            }
        }
    }
}
