//! A config's text to its keys: JSON or YAML, with the limits that keep reading any file quick.
//!
//! The host reads every config when it starts, so no file may make that slow or take much
//! memory, whatever it holds. serde_json and serde_norway refuse documents nested more than 128
//! levels deep without using the stack for more. Three limits of this host's own bound the
//! rest (times from a release build; a debug build is about five times slower):
//!
//! - [`MAX_CONFIG_BYTES`]: both parsers take time that grows with the text.
//! - [`MAX_YAML_BRACKETS`]: YAML's scanner (libyaml) takes time that grows with the text's
//!   length times the nesting of its flow collections (`[...]`, `{...}`): 100,000 nested
//!   `{a: ` take minutes, before the 128-level limit is ever checked. Counting every `[` and
//!   `{`, quoted or not, bounds that nesting whatever the text (a count cannot be fooled by
//!   quotes, as a YAML-aware depth count could); real configs hold a few dozen. The slowest
//!   file the two limits let through takes 0.2 s.
//! - [`MAX_YAML_VALUES`]: YAML aliases (`*name`) repeat what their anchor holds, so a few
//!   kilobytes of nested aliases stand for billions of values. serde_norway's own limit grows
//!   with the document (120 KiB took 40 s and 8 GiB). So the document is first walked without
//!   being kept, counting its values with aliases expanded, and refused past the limit (after
//!   0.04 s) before it is read into the config's types.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess};
use serde::de::{VariantAccess, Visitor};

use super::{Format, RawConfig};

/// The largest config read, in bytes: some 50 times the largest real configs.
pub const MAX_CONFIG_BYTES: usize = 256 << 10;

/// The most `[` and `{` characters a YAML config may hold; see the module documentation.
pub const MAX_YAML_BRACKETS: usize = 512;

/// The most values a YAML config may hold once its aliases are expanded: more than a file of
/// [`MAX_CONFIG_BYTES`] can hold without aliases (`{a,b,...}`: a value per byte).
pub const MAX_YAML_VALUES: usize = 2 * MAX_CONFIG_BYTES;

/// Reads `text` into a config's keys; the error says what is wrong and where.
pub(super) fn deserialize(format: Format, text: &str) -> Result<RawConfig, String> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "too big: more than {} KiB (a launcher config is a few KiB)",
            MAX_CONFIG_BYTES >> 10
        ));
    }
    // serde_path_to_error names the key a type error is at (`search_path.linux.prefix`) when
    // the parser's own message does not; the parsers add the line and column.
    let located = |path: String, message: String| {
        if path == "." || path == "?" || message.starts_with(&format!("{path}: ")) {
            message
        } else {
            format!("{path}: {message}")
        }
    };
    match format {
        Format::Json => {
            let mut parser = serde_json::Deserializer::from_str(text);
            let parsed = serde_path_to_error::deserialize::<_, RawConfig>(&mut parser)
                .map_err(|err| (err.path().to_string(), err.into_inner()))
                .and_then(|raw| parser.end().map(|()| raw).map_err(|e| (".".into(), e)));
            parsed.map_err(|(path, err)| match err.classify() {
                serde_json::error::Category::Data => located(path, err.to_string()),
                _ => format!("not valid JSON: {err}"),
            })
        }
        Format::Yaml => {
            check_brackets(text)?;
            // Walked untyped first, so that a syntax error is told apart from a wrong key.
            let seen = Cell::new(0);
            Walk { seen: &seen }
                .deserialize(serde_norway::Deserializer::from_str(text))
                .map_err(|err| {
                    // serde_norway's own limit may stop a small document first.
                    let repeated = err.to_string().starts_with("repetition limit exceeded");
                    if seen.get() > MAX_YAML_VALUES || repeated {
                        format!(
                            "not read: its aliases (`*name`) expand to too many values (at most \
                             {MAX_YAML_VALUES})"
                        )
                    } else {
                        format!("not valid YAML: {err}")
                    }
                })?;
            let parser = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize(parser)
                .map_err(|e| located(e.path().to_string(), e.into_inner().to_string()))
        }
    }
}

/// Refuses YAML with more than [`MAX_YAML_BRACKETS`] `[` and `{`, naming where the first one
/// too many is.
fn check_brackets(text: &str) -> Result<(), String> {
    let Some((at, _)) = text.match_indices(['[', '{']).nth(MAX_YAML_BRACKETS) else {
        return Ok(());
    };
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    Err(format!(
        "not read: more than {MAX_YAML_BRACKETS} `[` and `{{` (the next at line {line} column \
         {column}); YAML's parser slows down with nested lists and maps written in brackets, so \
         write them in block style (`- item`, `key: value`)"
    ))
}

/// Walks a document without keeping it, counting its values (aliases expanded, as reading it
/// into types expands them) and stopping past [`MAX_YAML_VALUES`]. Nesting is bounded by the
/// parser's recursion limit.
#[derive(Clone, Copy)]
struct Walk<'a> {
    seen: &'a Cell<usize>,
}

impl Walk<'_> {
    fn count<E: de::Error>(self) -> Result<(), E> {
        self.seen.set(self.seen.get() + 1);
        if self.seen.get() > MAX_YAML_VALUES {
            return Err(E::custom("too many values"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.count()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.count()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.count()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.count()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.count()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.count()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.count()
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        self.count()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.count()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.count()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.count()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.count()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    /// A tagged value (`!tag value`).
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let ((), value) = data.variant_seed(self)?;
        value.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_brackets_are_refused_with_where() {
        let text = format!("a:\n  b: {}", "[".repeat(MAX_YAML_BRACKETS + 5));
        let err = deserialize(Format::Yaml, &text).err().unwrap();
        assert!(
            err.starts_with("not read: more than 512 `[` and `{` (the next at line 2 column 518)"),
            "{err}"
        );
        // JSON's parser has no such trouble: only its own nesting limit applies.
        let json = format!(
            "{{\"environment_variables\": {{\"A\": {}{}}}}}",
            "[".repeat(1000),
            "]".repeat(1000)
        );
        let err = deserialize(Format::Json, &json).err().unwrap();
        assert!(err.contains("recursion limit exceeded"), "{err}");
    }

    /// Nested aliases that would expand to billions of values are refused after a bounded walk;
    /// ordinary aliases work.
    #[test]
    fn aliases_are_expanded_within_a_limit() {
        let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..40 {
            let list = vec![format!("*l{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("l{level}: &l{level} [{list}]\n"));
        }
        // Small, it is stopped by serde_norway's limit; with many values before it, which raise
        // that limit (120 KiB took 40 s and 8 GiB), by the host's.
        for filler in [0, 120_000] {
            let text = format!("filler: [{}]\n{bomb}", "x,".repeat(filler));
            let started = std::time::Instant::now();
            let err = deserialize(Format::Yaml, &text).err().unwrap();
            assert!(started.elapsed() < std::time::Duration::from_secs(20));
            assert_eq!(
                err,
                "not read: its aliases (`*name`) expand to too many values (at most 524288)"
            );
        }
        let shared = "linux: &paths {prefix: [/opt], expression: [x]}\n";
        let text = format!(
            "identifier: x\nlabel: X\napplicationIdentifier: x\nsearch_path:\n  {shared}  \
             darwin: *paths\nenvironment_variables: {{A: &a [1, 2], B: *a}}\n"
        );
        let raw = deserialize(Format::Yaml, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw.search_path["darwin"].prefix, ["/opt"]);
        assert_eq!(
            raw.environment_variables.unwrap()["B"],
            serde_json::json!([1, 2])
        );
    }

    #[test]
    fn too_big_is_refused_before_parsing() {
        let text = format!("identifier: x\n#{}", "x".repeat(MAX_CONFIG_BYTES));
        let err = deserialize(Format::Yaml, &text).err().unwrap();
        assert_eq!(
            err,
            "too big: more than 256 KiB (a launcher config is a few KiB)"
        );
    }
}
