//! Reading the schema data files (the format is described in the module docs of
//! [`schema`](super)) into raw type definitions, with `like` already applied. Everything
//! that needs the whole set (targets, subtypes, links) is checked in `resolve`.

use std::collections::HashMap;
use std::fmt::{self, Display, Formatter};

use serde_json::Value;

use super::model::{Format, KeyValue, Property, PropertyKind, ScalarType, TypeAlias};

/// A data file that could not be read, with the file and 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemaError {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl Display for SchemaError {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for SchemaError {}

/// Where a definition was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) file: String,
    pub(crate) line: usize,
}

impl Origin {
    pub(crate) fn error(&self, message: impl Into<String>) -> SchemaError {
        SchemaError {
            file: self.file.clone(),
            line: self.line,
            message: message.into(),
        }
    }
}

/// A `via` line, before it is checked against the property it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Via {
    /// `via <name> computed`
    Computed,
    /// `via <name> private`
    Private,
    /// `via <reference> <property>`
    Property(String),
    /// `via <collection> <Target>.<key> [prop=value ...]`
    Back {
        target: String,
        key: String,
        filter: Vec<(String, String)>,
    },
    /// `via <collection> <Link>.<owner_key> <Link>.<member_key>`
    Through {
        link: String,
        owner: String,
        member: String,
    },
}

/// `subtype_of <Parent> [prop=value ...]`.
#[derive(Debug, Clone)]
pub(crate) struct SubtypeOf {
    pub(crate) parent: String,
    pub(crate) discriminator: Vec<(String, String)>,
    pub(crate) origin: Origin,
}

/// One `type` block, with the properties and `via` lines of its `like` base copied in.
#[derive(Debug, Clone)]
pub(crate) struct RawType {
    pub(crate) name: String,
    pub(crate) origin: Origin,
    pub(crate) alias_for: Option<TypeAlias>,
    pub(crate) primary_key: Option<Vec<String>>,
    pub(crate) required: Option<Vec<String>>,
    pub(crate) immutable: Option<Vec<String>>,
    pub(crate) default_projections: Option<Vec<String>>,
    pub(crate) system_projections: Option<Vec<String>>,
    pub(crate) computed: Option<Vec<String>>,
    pub(crate) properties: Vec<(Property, Origin)>,
    pub(crate) vias: Vec<(String, Via, Origin)>,
    pub(crate) subtype_of: Option<SubtypeOf>,
    /// Names of the properties written in this block (not copied by `like`).
    own: Vec<String>,
}

impl RawType {
    fn new(name: String, origin: Origin) -> Self {
        RawType {
            name,
            origin,
            alias_for: None,
            primary_key: None,
            required: None,
            immutable: None,
            default_projections: None,
            system_projections: None,
            computed: None,
            properties: Vec::new(),
            vias: Vec::new(),
            subtype_of: None,
            own: Vec::new(),
        }
    }

    fn header(&mut self, keyword: &str) -> Option<&mut Option<Vec<String>>> {
        Some(match keyword {
            "primary_key" => &mut self.primary_key,
            "required" => &mut self.required,
            "immutable" => &mut self.immutable,
            "default_projections" => &mut self.default_projections,
            "system_projections" => &mut self.system_projections,
            "computed" => &mut self.computed,
            _ => return None,
        })
    }
}

/// Reads the data files, in order, into type definitions in order. `like` may name any type
/// defined before it, in the same file or an earlier one.
pub(crate) fn parse(sources: &[(&str, &str)]) -> Result<Vec<RawType>, SchemaError> {
    let mut types: Vec<RawType> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (file, text) in sources {
        let mut current: Option<RawType> = None;
        for (number, line) in text.lines().enumerate() {
            let origin = Origin {
                file: file.to_string(),
                line: number + 1,
            };
            let tokens = tokenize(line).map_err(|m| origin.error(m))?;
            let Some(&first) = tokens.first() else {
                continue;
            };
            if first == "type" {
                if let Some(done) = current.take() {
                    finish(done, &mut types, &mut by_name)?;
                }
                let [_, name] = tokens[..] else {
                    return Err(origin.error("expected `type <Name>`"));
                };
                identifier(name, "a type name").map_err(|m| origin.error(m))?;
                current = Some(RawType::new(name.to_string(), origin));
                continue;
            }
            let Some(ty) = current.as_mut() else {
                return Err(origin.error(format!(
                    "`{first}` outside a type block (start one with `type <Name>`)"
                )));
            };
            line_in_type(ty, &tokens, &origin, &types, &by_name).map_err(|m| origin.error(m))?;
        }
        if let Some(done) = current.take() {
            finish(done, &mut types, &mut by_name)?;
        }
    }
    Ok(types)
}

fn finish(
    ty: RawType,
    types: &mut Vec<RawType>,
    by_name: &mut HashMap<String, usize>,
) -> Result<(), SchemaError> {
    if !matches!(&ty.primary_key, Some(key) if !key.is_empty()) {
        return Err(ty
            .origin
            .error(format!("type {} has no primary_key", ty.name)));
    }
    if let Some(&earlier) = by_name.get(&ty.name) {
        let first = &types[earlier].origin;
        return Err(ty.origin.error(format!(
            "type {} is already defined at {}:{}",
            ty.name, first.file, first.line
        )));
    }
    by_name.insert(ty.name.clone(), types.len());
    types.push(ty);
    Ok(())
}

/// One line inside a `type` block; the error is the message only (the caller adds the place).
fn line_in_type(
    ty: &mut RawType,
    tokens: &[&str],
    origin: &Origin,
    types: &[RawType],
    by_name: &HashMap<String, usize>,
) -> Result<(), String> {
    let first = tokens[0];
    let rest = &tokens[1..];
    if let Some(name) = first.strip_suffix(':') {
        identifier(name, "a property name")?;
        if ty.own.iter().any(|n| n == name) {
            return Err(format!(
                "property {name} is written twice in type {}",
                ty.name
            ));
        }
        let property = property(name, rest)?;
        ty.own.push(name.to_string());
        match ty.properties.iter_mut().find(|(p, _)| p.name == name) {
            Some(slot) => *slot = (property, origin.clone()),
            None => ty.properties.push((property, origin.clone())),
        }
        return Ok(());
    }
    match first {
        "like" => {
            let [base] = rest else {
                return Err("expected `like <Type>`".into());
            };
            if !ty.properties.is_empty() || !ty.vias.is_empty() {
                return Err("`like` must come before the properties and `via` lines".into());
            }
            let Some(&index) = by_name.get(*base) else {
                return Err(format!(
                    "`like {base}`: no type {base} is defined before this line"
                ));
            };
            ty.properties = types[index].properties.clone();
            ty.vias = types[index].vias.clone();
        }
        "alias_for" => {
            if ty.alias_for.is_some() {
                return Err("alias_for is written twice".into());
            }
            let [id, classifiers @ ..] = rest else {
                return Err("expected `alias_for <Name> [attribute=value ...]`".into());
            };
            ty.alias_for = Some(if classifiers.is_empty() {
                TypeAlias::Name(id.to_string())
            } else {
                TypeAlias::Classified {
                    id: id.to_string(),
                    classifiers: pairs(classifiers)?,
                }
            });
        }
        "subtype_of" => {
            if ty.subtype_of.is_some() {
                return Err("subtype_of is written twice".into());
            }
            let [parent, discriminator @ ..] = rest else {
                return Err("expected `subtype_of <Type> [property=value ...]`".into());
            };
            identifier(parent, "a type name")?;
            ty.subtype_of = Some(SubtypeOf {
                parent: parent.to_string(),
                discriminator: pairs(discriminator)?,
                origin: origin.clone(),
            });
        }
        "via" => {
            let [name, spec @ ..] = rest else {
                return Err("expected `via <property> <how>`".into());
            };
            identifier(name, "a property name")?;
            let via = via(spec)?;
            ty.vias.retain(|(n, _, _)| n != name);
            ty.vias.push((name.to_string(), via, origin.clone()));
        }
        keyword => {
            let Some(list) = ty.header(keyword) else {
                return Err(format!(
                    "unknown line `{keyword}`: expected `<property>: <kind> ...`, a list \
                     (primary_key, required, immutable, default_projections, \
                     system_projections, computed), alias_for, like, subtype_of or via"
                ));
            };
            for word in rest {
                if word.starts_with('"') {
                    return Err(format!("{keyword}: names are written without quotes"));
                }
            }
            list.get_or_insert_with(Vec::new)
                .extend(rest.iter().map(|w| w.to_string()));
        }
    }
    Ok(())
}

/// `<kind> [modifiers]` of a property line.
fn property(name: &str, tokens: &[&str]) -> Result<Property, String> {
    let Some((&kind_token, mut rest)) = tokens.split_first() else {
        return Err(format!("property {name} has no kind"));
    };
    let kind = if kind_token == "->" {
        let Some((&target, after)) = rest.split_first() else {
            return Err("expected a type name after `->`".into());
        };
        identifier(target, "a type name")?;
        rest = after;
        PropertyKind::Reference {
            target: target.to_string(),
        }
    } else if let Some(inner) = kind_token.strip_prefix('[') {
        let target = inner
            .strip_suffix(']')
            .ok_or("expected `[Type]` for a collection")?;
        identifier(target, "a type name")?;
        PropertyKind::Collection {
            target: target.to_string(),
        }
    } else if let Some(inner) = kind_token.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or("expected `{Type key=value}` for a mapped collection")?;
        let words: Vec<&str> = inner.split_whitespace().collect();
        let (target, key_value) = match words[..] {
            [target] => (target, None),
            [target, pair] => {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or("expected `{Type key=value}` for a mapped collection")?;
                let kv = KeyValue {
                    key: key.to_string(),
                    value: value.to_string(),
                };
                (target, Some(kv))
            }
            _ => return Err("expected `{Type}` or `{Type key=value}`".into()),
        };
        identifier(target, "a type name")?;
        PropertyKind::MappedCollection {
            target: target.to_string(),
            key_value,
        }
    } else {
        let (ty, format) = match kind_token.split_once('/') {
            Some((ty, format)) => (ty, Some(format)),
            None => (kind_token, None),
        };
        let ty = match ty {
            "-" => None,
            _ => Some(ScalarType::parse(ty).ok_or_else(|| {
                format!(
                    "unknown kind `{kind_token}`: expected string, boolean, integer, number, \
                     variable, object (optionally /date-time, /foreign_key or /json; `-` for \
                     no type), `-> Type`, `[Type]` or `{{Type key=value}}`"
                )
            })?),
        };
        let format = match format {
            None => None,
            Some(f) => Some(Format::parse(f).ok_or_else(|| {
                format!("unknown format `{f}`: expected date-time, foreign_key or json")
            })?),
        };
        PropertyKind::Scalar { ty, format }
    };
    let mut property = Property {
        name: name.to_string(),
        kind,
        default: None,
        alias_for: None,
        description: None,
        restricted: false,
        enum_values: None,
        transform: None,
    };
    let mut i = 0;
    while i < rest.len() {
        let token = rest[i];
        i += 1;
        if token == "=" {
            let Some(&literal) = rest.get(i) else {
                return Err("expected a JSON value after `=`".into());
            };
            i += 1;
            let value: Value = serde_json::from_str(literal)
                .map_err(|e| format!("default `{literal}` is not a JSON value: {e}"))?;
            if value.is_array() || value.is_object() {
                return Err("a default is a string, number, boolean or null".into());
            }
            set_once(&mut property.default, value, "default")?;
        } else if let Some(alias) = token.strip_prefix('@') {
            set_once(&mut property.alias_for, unquote(alias)?, "@alias")?;
        } else if token == "restricted" {
            property.restricted = true;
        } else if token.starts_with('"') {
            set_once(&mut property.description, unquote(token)?, "description")?;
        } else if let Some(values) = token.strip_prefix("enum=") {
            let values = values.split(',').map(str::to_string).collect();
            set_once(&mut property.enum_values, values, "enum")?;
        } else if let Some(pair) = token.strip_prefix("transform.") {
            let (side, pattern) = pair
                .split_once('=')
                .ok_or("expected `transform.<side>=<pattern>`")?;
            let transform = property.transform.get_or_insert_with(Vec::new);
            transform.push((side.to_string(), unquote(pattern)?));
        } else {
            return Err(format!(
                "unknown modifier `{token}`: expected `= <default>`, `@alias`, `restricted`, \
                 `enum=a,b`, `transform.<side>=<pattern>` or a \"description\""
            ));
        }
    }
    Ok(property)
}

fn via(spec: &[&str]) -> Result<Via, String> {
    let dotted = |token: &str| -> Result<(String, String), String> {
        let (ty, key) = token
            .split_once('.')
            .ok_or_else(|| format!("expected `Type.property`, found `{token}`"))?;
        identifier(ty, "a type name")?;
        identifier(key, "a property name")?;
        Ok((ty.to_string(), key.to_string()))
    };
    Ok(match spec {
        ["computed"] => Via::Computed,
        ["private"] => Via::Private,
        [one] if !one.contains('.') => {
            identifier(one, "a property name")?;
            Via::Property(one.to_string())
        }
        [first, second] if second.contains('.') => {
            let (link, owner) = dotted(first)?;
            let (other, member) = dotted(second)?;
            if link != other {
                return Err(format!(
                    "`{first} {second}`: both keys must be of one link type"
                ));
            }
            Via::Through {
                link,
                owner,
                member,
            }
        }
        [first, filter @ ..] => {
            let (target, key) = dotted(first)?;
            Via::Back {
                target,
                key,
                filter: pairs(filter)?,
            }
        }
        [] => return Err("expected how after `via <property>`".into()),
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{what} is given twice"));
    }
    *slot = Some(value);
    Ok(())
}

/// `name=value` tokens (values may be quoted).
fn pairs(tokens: &[&str]) -> Result<Vec<(String, String)>, String> {
    tokens
        .iter()
        .map(|token| {
            let (name, value) = token
                .split_once('=')
                .ok_or_else(|| format!("expected `name=value`, found `{token}`"))?;
            identifier(name, "a name")?;
            Ok((name.to_string(), unquote(value)?))
        })
        .collect()
}

/// A bare word as is; a double-quoted JSON string decoded.
fn unquote(token: &str) -> Result<String, String> {
    if token.starts_with('"') {
        serde_json::from_str(token).map_err(|e| format!("bad string {token}: {e}"))
    } else if token.is_empty() {
        Err("empty value".into())
    } else {
        Ok(token.to_string())
    }
}

fn identifier(text: &str, what: &str) -> Result<(), String> {
    let mut chars = text.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("expected {what}, found `{text}`"))
    }
}

/// Splits a line into tokens: words separated by white space, where a double-quoted JSON
/// string (anywhere in a word) may hold spaces and a word starting with `{` runs to the
/// next `}`. A word starting with `#` begins a comment.
pub(crate) fn tokenize(line: &str) -> Result<Vec<&str>, String> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() || bytes[i] == b'#' {
            return Ok(tokens);
        }
        let start = i;
        if bytes[i] == b'{' {
            let close = line[i..].find('}').ok_or("`{` without a closing `}`")?;
            i += close + 1;
            if i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                return Err("expected white space after `}`".into());
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                if bytes[i] == b'"' {
                    i = string_end(bytes, i)?;
                } else {
                    i += 1;
                }
            }
        }
        tokens.push(&line[start..i]);
    }
}

/// The index just past the string whose opening quote is at `open`.
fn string_end(bytes: &[u8], open: usize) -> Result<usize, String> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err("a string without its closing `\"`".into())
}
