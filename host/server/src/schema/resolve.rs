//! From raw definitions to checked [`EntityType`]s: every `$ref` names a type of the set,
//! primary keys are properties, and each type's supertype, discriminator, references and
//! collections are worked out (from ftrack's schema where it tells, from `via` and
//! `subtype_of` lines where it does not). Anything that cannot be worked out is an error
//! naming the file and line to fix.

use std::collections::HashMap;

use super::model::{CollectionLink, EntityType, Format, PropertyKind, ReferenceLink, TypeAlias};
use super::parse::{Origin, RawType, SchemaError, Via};

/// The checked types, in order, and their index by name.
pub(crate) struct Resolved {
    pub(crate) types: Vec<EntityType>,
    pub(crate) index: HashMap<String, usize>,
}

pub(crate) fn resolve(raw: Vec<RawType>) -> Result<Resolved, SchemaError> {
    let index: HashMap<String, usize> = raw
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut types = Vec::with_capacity(raw.len());
    for ty in &raw {
        types.push(entity_type(ty, &index)?);
    }
    for (i, ty) in raw.iter().enumerate() {
        let (supertype, discriminator) = supertype(ty, &types, &index)?;
        types[i].supertype = supertype;
        types[i].discriminator = discriminator;
    }
    for ty in &raw {
        let mut seen = vec![ty.name.as_str()];
        let mut at = &types[index[&ty.name]];
        while let Some(up) = at.supertype.as_deref() {
            if seen.contains(&up) {
                return Err(ty.origin.error(format!(
                    "the supertypes of {} go round in a circle: {}",
                    ty.name,
                    seen.join(" → ")
                )));
            }
            seen.push(up);
            at = &types[index[up]];
        }
    }
    for (i, ty) in raw.iter().enumerate() {
        types[i].references = references(ty, &types[i])?;
    }
    for (i, ty) in raw.iter().enumerate() {
        types[i].collections = collections(ty, &types, &index)?;
    }
    Ok(Resolved { types, index })
}

fn entity_type(raw: &RawType, index: &HashMap<String, usize>) -> Result<EntityType, SchemaError> {
    for (property, origin) in &raw.properties {
        if let Some(target) = property.kind.target() {
            if !index.contains_key(target) {
                return Err(origin.error(format!(
                    "{}.{} refers to {target}, which is not a type of the set (leave the \
                     property out, or add the type)",
                    raw.name, property.name
                )));
            }
        }
    }
    for (name, _, origin) in &raw.vias {
        if !raw.properties.iter().any(|(p, _)| &p.name == name) {
            return Err(origin.error(format!("via {name}: {} has no such property", raw.name)));
        }
    }
    let properties: Vec<_> = raw.properties.iter().map(|(p, _)| p.clone()).collect();
    let property_index = properties
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.clone(), i))
        .collect();
    let primary_key = raw.primary_key.clone().unwrap_or_default();
    for key in &primary_key {
        let scalar = properties
            .iter()
            .any(|p| &p.name == key && matches!(p.kind, PropertyKind::Scalar { .. }));
        if !scalar {
            return Err(raw.origin.error(format!(
                "primary key {key} of {} is not a scalar property of it",
                raw.name
            )));
        }
    }
    Ok(EntityType {
        name: raw.name.clone(),
        alias_for: raw.alias_for.clone(),
        primary_key,
        required: raw.required.clone().unwrap_or_default(),
        immutable: raw.immutable.clone().unwrap_or_default(),
        default_projections: raw.default_projections.clone().unwrap_or_default(),
        system_projections: raw.system_projections.clone(),
        computed: raw.computed.clone(),
        properties,
        index: property_index,
        supertype: None,
        discriminator: Vec::new(),
        references: HashMap::new(),
        collections: HashMap::new(),
    })
}

/// The supertype and discriminator of `raw`: from its classified `alias_for`, from a primary
/// key that is a foreign key to another type's `id` (joined inheritance), and from its
/// `subtype_of` line, which must agree with the first two where they tell.
#[allow(clippy::type_complexity)]
fn supertype(
    raw: &RawType,
    types: &[EntityType],
    index: &HashMap<String, usize>,
) -> Result<(Option<String>, Vec<(String, String)>), SchemaError> {
    let me = &types[index[&raw.name]];
    let mut derived: Option<String> = None;
    let mut discriminator = Vec::new();
    if let Some(TypeAlias::Classified { id, classifiers }) = &raw.alias_for {
        let named: Vec<&EntityType> = types
            .iter()
            .filter(|t| t.name != raw.name)
            .filter(|t| matches!(&t.alias_for, Some(TypeAlias::Name(n)) if n == id))
            .collect();
        derived = match named[..] {
            [one] => Some(one.name.clone()),
            [] => index
                .get(id)
                .filter(|_| id != &raw.name)
                .map(|&i| types[i].name.clone()),
            _ => {
                let names: Vec<&str> = named.iter().map(|t| t.name.as_str()).collect();
                return Err(raw.origin.error(format!(
                    "alias_for {id}: several types are alias_for {id} ({}); cannot tell \
                     the supertype",
                    names.join(", ")
                )));
            }
        };
        if derived.is_none() {
            return Err(raw.origin.error(format!(
                "alias_for {id} with classifiers: no type of the set is {id} or alias_for {id}"
            )));
        }
        for (alias, value) in classifiers {
            let property = me.property_for_alias(alias).ok_or_else(|| {
                raw.origin.error(format!(
                    "classifier {alias}: {} has no property stored as {alias}",
                    raw.name
                ))
            })?;
            discriminator.push((property.name.clone(), value.clone()));
        }
    } else if let [key] = &me.primary_key[..] {
        let property = me.property(key).expect("checked primary key");
        if let PropertyKind::Scalar {
            format: Some(Format::ForeignKey),
            ..
        } = property.kind
        {
            let parent = property
                .description
                .as_deref()
                .and_then(|d| d.strip_prefix("Foreign key(s): "))
                .and_then(|d| d.strip_suffix(".id"))
                .filter(|parent| *parent != raw.name && index.contains_key(*parent));
            derived = parent.map(str::to_string);
        }
    }
    let Some(explicit) = &raw.subtype_of else {
        return Ok((derived, discriminator));
    };
    if !index.contains_key(&explicit.parent) || explicit.parent == raw.name {
        return Err(explicit.origin.error(format!(
            "subtype_of {}: not another type of the set",
            explicit.parent
        )));
    }
    if let Some(derived) = &derived {
        if derived != &explicit.parent {
            return Err(explicit.origin.error(format!(
                "subtype_of {}: ftrack's schema makes {} a subtype of {derived}",
                explicit.parent, raw.name
            )));
        }
    }
    for (name, value) in &explicit.discriminator {
        if me.property(name).is_none() {
            return Err(explicit
                .origin
                .error(format!("subtype_of: {} has no property {name}", raw.name)));
        }
        discriminator.push((name.clone(), value.clone()));
    }
    Ok((Some(explicit.parent.clone()), discriminator))
}

fn via_for<'a>(raw: &'a RawType, name: &str) -> Option<(&'a Via, &'a Origin)> {
    raw.vias
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, via, origin)| (via, origin))
}

fn origin_of<'a>(raw: &'a RawType, name: &str) -> &'a Origin {
    raw.properties
        .iter()
        .find(|(p, _)| p.name == name)
        .map_or(&raw.origin, |(_, origin)| origin)
}

fn is_scalar(ty: &EntityType, name: &str) -> bool {
    ty.property(name)
        .is_some_and(|p| matches!(p.kind, PropertyKind::Scalar { .. }))
}

/// How each reference of `ty` is stored: `via`, else computed, else `<name>_id`, else the
/// property whose `alias_for` is the reference's `alias_for` plus `id`.
fn references(
    raw: &RawType,
    ty: &EntityType,
) -> Result<HashMap<String, ReferenceLink>, SchemaError> {
    let mut links = HashMap::new();
    for property in &ty.properties {
        let name = &property.name;
        let via = via_for(raw, name);
        if !matches!(property.kind, PropertyKind::Reference { .. }) {
            if let (Some((_, origin)), PropertyKind::Scalar { .. }) = (via, &property.kind) {
                return Err(origin.error(format!("via {name}: not a reference or collection")));
            }
            continue;
        }
        let link = match via {
            Some((Via::Computed, _)) => ReferenceLink::Computed,
            Some((Via::Private, _)) => ReferenceLink::Private,
            Some((Via::Property(key), origin)) => {
                if !is_scalar(ty, key) {
                    return Err(origin.error(format!(
                        "via {name} {key}: {} has no scalar property {key}",
                        ty.name
                    )));
                }
                ReferenceLink::ForeignKey(key.clone())
            }
            Some((_, origin)) => {
                return Err(origin.error(format!(
                    "via {name}: a reference takes `via {name} <property>`, `computed` or \
                     `private`"
                )))
            }
            None if ty.is_computed(name) => ReferenceLink::Computed,
            None => {
                let by_name = format!("{name}_id");
                let by_alias = property.alias_for.as_ref().and_then(|alias| {
                    let stored = format!("{alias}id");
                    ty.properties
                        .iter()
                        .find(|p| {
                            p.alias_for.as_deref() == Some(stored.as_str())
                                && matches!(p.kind, PropertyKind::Scalar { .. })
                        })
                        .map(|p| p.name.clone())
                });
                if is_scalar(ty, &by_name) {
                    ReferenceLink::ForeignKey(by_name)
                } else if let Some(key) = by_alias {
                    ReferenceLink::ForeignKey(key)
                } else {
                    return Err(origin_of(raw, name).error(format!(
                        "cannot tell which property of {} stores reference {name}: add \
                         `via {name} <property>` (or `computed`, `private`)",
                        ty.name
                    )));
                }
            }
        };
        links.insert(name.clone(), link);
    }
    Ok(links)
}

/// How the members of each collection of the type are found: `via`, else computed, else the
/// one reference of the target back to this type (or its nearest supertype), else the one
/// foreign key of the target described as `Foreign key(s): <this type>.id` (same search),
/// else the target's `parent_id` when it also has `parent_type` (a polymorphic parent).
fn collections(
    raw: &RawType,
    types: &[EntityType],
    index: &HashMap<String, usize>,
) -> Result<HashMap<String, CollectionLink>, SchemaError> {
    let ty = &types[index[&raw.name]];
    let mut owners = vec![ty];
    while let Some(up) = owners.last().and_then(|t| t.supertype.as_deref()) {
        owners.push(&types[index[up]]);
    }
    let mut links = HashMap::new();
    for property in &ty.properties {
        let name = &property.name;
        let target = match &property.kind {
            PropertyKind::Collection { target } | PropertyKind::MappedCollection { target, .. } => {
                &types[index[target]]
            }
            _ => continue,
        };
        let link = match via_for(raw, name) {
            Some((via, origin)) => explicit_collection(name, via, origin, target, types, index)?,
            None if ty.is_computed(name) => CollectionLink::Computed,
            None => derived_collection(target, &owners).map_err(|why| {
                origin_of(raw, name).error(format!(
                    "cannot tell how the members of {}.{name} are found ({why}): add \
                     `via {name} {}.<property>` (or `<Link>.<key> <Link>.<key>`, \
                     `computed`, `private`)",
                    ty.name, target.name
                ))
            })?,
        };
        links.insert(name.clone(), link);
    }
    Ok(links)
}

fn explicit_collection(
    name: &str,
    via: &Via,
    origin: &Origin,
    target: &EntityType,
    types: &[EntityType],
    index: &HashMap<String, usize>,
) -> Result<CollectionLink, SchemaError> {
    Ok(match via {
        Via::Computed => CollectionLink::Computed,
        Via::Private => CollectionLink::Private,
        Via::Property(_) => {
            return Err(origin.error(format!(
                "via {name}: a collection takes `via {name} {}.<property>`",
                target.name
            )))
        }
        Via::Back {
            target: written,
            key,
            filter,
        } => {
            if written != &target.name {
                return Err(origin.error(format!(
                    "via {name} {written}.{key}: the members are {}, not {written}",
                    target.name
                )));
            }
            for column in std::iter::once(key).chain(filter.iter().map(|(p, _)| p)) {
                if !is_scalar(target, column) {
                    return Err(origin.error(format!(
                        "via {name}: {} has no scalar property {column}",
                        target.name
                    )));
                }
            }
            CollectionLink::BackReference {
                foreign_key: key.clone(),
                filter: filter.clone(),
            }
        }
        Via::Through {
            link,
            owner,
            member,
        } => {
            let Some(&i) = index.get(link) else {
                return Err(origin.error(format!("via {name}: no type {link} in the set")));
            };
            for key in [owner, member] {
                if !is_scalar(&types[i], key) {
                    return Err(
                        origin.error(format!("via {name}: {link} has no scalar property {key}"))
                    );
                }
            }
            CollectionLink::Through {
                link_type: link.clone(),
                owner_key: owner.clone(),
                member_key: member.clone(),
            }
        }
    })
}

fn derived_collection(
    target: &EntityType,
    owners: &[&EntityType],
) -> Result<CollectionLink, String> {
    let back = |foreign_key: &str| CollectionLink::BackReference {
        foreign_key: foreign_key.to_string(),
        filter: Vec::new(),
    };
    for owner in owners {
        let keys: Vec<&str> = target
            .properties
            .iter()
            .filter(|p| p.kind.target() == Some(owner.name.as_str()))
            .filter(|p| matches!(p.kind, PropertyKind::Reference { .. }))
            .filter_map(|p| target.foreign_key_for(&p.name))
            .collect();
        match keys[..] {
            [key] => return Ok(back(key)),
            [] => {}
            _ => {
                return Err(format!(
                    "{} refers to {} by several properties: {}",
                    target.name,
                    owner.name,
                    keys.join(", ")
                ))
            }
        }
    }
    for owner in owners {
        let described = format!("Foreign key(s): {}.id", owner.name);
        let keys: Vec<&str> = target
            .properties
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    PropertyKind::Scalar {
                        format: Some(Format::ForeignKey),
                        ..
                    }
                ) && p.description.as_deref() == Some(described.as_str())
            })
            .map(|p| p.name.as_str())
            .collect();
        match keys[..] {
            [key] => return Ok(back(key)),
            [] => {}
            _ => {
                return Err(format!(
                    "{} has several foreign keys to {}: {}",
                    target.name,
                    owner.name,
                    keys.join(", ")
                ))
            }
        }
    }
    let polymorphic = target
        .property("parent_id")
        .is_some_and(|p| matches!(p.kind, PropertyKind::Scalar { format: None, .. }))
        && is_scalar(target, "parent_type");
    if polymorphic {
        return Ok(back("parent_id"));
    }
    Err(format!(
        "{} has no reference or foreign key back to {}",
        target.name, owners[0].name
    ))
}
