//! A native handler's result as the host keeps it: the plugin's [`FlatValue`], checked once
//! when the handler returns and read only when someone wants it in another form.

use std::borrow::Cow;
use std::fmt;

use connect_plugin_abi::{FlatValue, ValueNode};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};

use super::*;

/// How deep a result may nest: `serde_json`'s own limit, so that whatever is kept can also be
/// written out and read back.
const MAX_DEPTH: usize = 128;

/// A native handler's result, checked to be one well-formed JSON value (see
/// `connect_plugin_abi::value`) and kept as the plugin made it, in the plugin's memory.
#[derive(Debug)]
pub struct NativeValue(FlatValue);

/// Why a plugin's [`FlatValue`] is not one JSON value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("node {node}: {problem}")]
pub struct MalformedValue {
    /// Where, counted from 0 in the value's nodes.
    pub node: usize,
    /// What is wrong there.
    pub problem: &'static str,
}

impl NativeValue {
    /// `value` if it is one JSON value; why not otherwise. An empty value is `null`.
    pub fn checked(value: FlatValue) -> Result<NativeValue, MalformedValue> {
        let nodes = value.nodes.as_slice();
        if !nodes.is_empty() {
            let end = check(nodes, 0, 0)?;
            if end != nodes.len() {
                return Err(MalformedValue {
                    node: end,
                    problem: "nodes left over after the value",
                });
            }
        }
        Ok(NativeValue(value))
    }

    /// The value's nodes, checked.
    fn nodes(&self) -> &[ValueNode] {
        self.0.nodes.as_slice()
    }
}

/// Checks the value starting at node `at`; returns the index after it.
fn check(nodes: &[ValueNode], at: usize, depth: usize) -> Result<usize, MalformedValue> {
    let fail = |node, problem| Err(MalformedValue { node, problem });
    let Some(node) = nodes.get(at) else {
        return fail(at, "a container has fewer members than it says");
    };
    match node {
        ValueNode::Null | ValueNode::Bool(_) | ValueNode::Int(_) | ValueNode::UInt(_) => Ok(at + 1),
        ValueNode::Float(x) if x.is_finite() => Ok(at + 1),
        ValueNode::Float(_) => fail(at, "a number JSON cannot hold (NaN or infinite)"),
        ValueNode::Static(_) | ValueNode::Text(_) | ValueNode::Short(_) => Ok(at + 1),
        ValueNode::List(_) | ValueNode::Map(_) if depth >= MAX_DEPTH => {
            fail(at, "nested more than 128 deep")
        }
        ValueNode::List(count) => {
            let mut next = at + 1;
            for _ in 0..*count {
                next = check(nodes, next, depth + 1)?;
            }
            Ok(next)
        }
        ValueNode::Map(count) => {
            let mut next = at + 1;
            for _ in 0..*count {
                match nodes.get(next) {
                    Some(ValueNode::Static(_) | ValueNode::Text(_) | ValueNode::Short(_)) => {}
                    Some(_) => return fail(next, "a map key that is not a string"),
                    None => return fail(next, "a container has fewer members than it says"),
                }
                next = check(nodes, next + 1, depth + 1)?;
            }
            Ok(next)
        }
    }
}

/// A string node's text, of a checked value. A short string's bytes are UTF-8 when the SDK
/// wrote them; should a plugin built otherwise send other bytes, they read as U+FFFD rather
/// than cost every result a check.
fn text(node: &ValueNode) -> Cow<'_, str> {
    match node {
        ValueNode::Static(text) => Cow::Borrowed(text.as_str()),
        ValueNode::Text(text) => Cow::Borrowed(text.as_str()),
        ValueNode::Short(short) => String::from_utf8_lossy(short.bytes()),
        other => unreachable!("a checked key is a string, not {other:?}"),
    }
}

/// The value starting at node `at` of a checked value, and the index after it.
fn to_json(nodes: &[ValueNode], at: usize) -> (Value, usize) {
    let scalar = |value| (value, at + 1);
    match &nodes[at] {
        ValueNode::Null => scalar(Value::Null),
        ValueNode::Bool(flag) => scalar(Value::Bool(*flag)),
        ValueNode::Int(int) => scalar(Value::from(*int)),
        ValueNode::UInt(uint) => scalar(Value::from(*uint)),
        ValueNode::Float(x) => scalar(Number::from_f64(*x).map_or(Value::Null, Value::Number)),
        node @ (ValueNode::Static(_) | ValueNode::Short(_) | ValueNode::Text(_)) => {
            scalar(Value::String(text(node).into_owned()))
        }
        ValueNode::List(count) => {
            let mut items = Vec::with_capacity(*count as usize);
            let mut next = at + 1;
            for _ in 0..*count {
                let (item, after) = to_json(nodes, next);
                items.push(item);
                next = after;
            }
            (Value::Array(items), next)
        }
        ValueNode::Map(count) => {
            let mut map = Map::with_capacity(*count as usize);
            let mut next = at + 1;
            for _ in 0..*count {
                let (value, after) = to_json(nodes, next + 1);
                map.insert(text(&nodes[next]).into_owned(), value);
                next = after;
            }
            (Value::Object(map), next)
        }
    }
}

/// The value starting at a node of a checked value, written as JSON without a `Value` between.
struct NodeAt<'a> {
    nodes: &'a [ValueNode],
    at: usize,
    /// Where the value ends, once written (the next sibling starts there).
    end: std::cell::Cell<usize>,
}

impl<'a> NodeAt<'a> {
    fn new(nodes: &'a [ValueNode], at: usize) -> Self {
        NodeAt {
            nodes,
            at,
            end: std::cell::Cell::new(at + 1),
        }
    }
}

impl Serialize for NodeAt<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let node = &self.nodes[self.at];
        match node {
            ValueNode::Null => serializer.serialize_unit(),
            ValueNode::Bool(flag) => serializer.serialize_bool(*flag),
            ValueNode::Int(int) => serializer.serialize_i64(*int),
            ValueNode::UInt(uint) => serializer.serialize_u64(*uint),
            ValueNode::Float(x) => serializer.serialize_f64(*x),
            ValueNode::Static(_) | ValueNode::Short(_) | ValueNode::Text(_) => {
                serializer.serialize_str(&text(node))
            }
            ValueNode::List(count) => {
                let mut list = serializer.serialize_seq(Some(*count as usize))?;
                let mut next = self.at + 1;
                for _ in 0..*count {
                    let item = NodeAt::new(self.nodes, next);
                    list.serialize_element(&item)?;
                    next = item.end.get();
                }
                self.end.set(next);
                list.end()
            }
            ValueNode::Map(count) => {
                let mut map = serializer.serialize_map(Some(*count as usize))?;
                let mut next = self.at + 1;
                for _ in 0..*count {
                    let value = NodeAt::new(self.nodes, next + 1);
                    map.serialize_entry(&text(&self.nodes[next]), &value)?;
                    next = value.end.get();
                }
                self.end.set(next);
                map.end()
            }
        }
    }
}

impl Serialize for NativeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.nodes() {
            [] => serializer.serialize_unit(),
            nodes => NodeAt::new(nodes, 0).serialize(serializer),
        }
    }
}

impl fmt::Display for NativeValue {
    /// The value as JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl ResultForm for NativeValue {
    fn is_null(&self) -> bool {
        matches!(self.nodes(), [] | [ValueNode::Null])
    }

    fn to_json(&self) -> Value {
        match self.nodes() {
            [] => Value::Null,
            nodes => to_json(nodes, 0).0,
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use abi_stable::std_types::{RStr, RString, RVec};
    use connect_plugin_abi::ShortText;
    use serde_json::json;

    use super::*;

    fn flat(nodes: Vec<ValueNode>) -> FlatValue {
        FlatValue {
            nodes: RVec::from(nodes),
        }
    }

    fn short(text: &str) -> ValueNode {
        ValueNode::Short(ShortText::new(text).unwrap())
    }

    #[test]
    fn a_checked_value_reads_as_json_and_writes_as_json() {
        let value = NativeValue::checked(flat(vec![
            ValueNode::Map(3),
            ValueNode::Static(RStr::from_str("items")),
            ValueNode::List(2),
            ValueNode::Map(1),
            short("label"),
            ValueNode::Text(RString::from("a longer label, kept in its own string")),
            ValueNode::List(0),
            ValueNode::Static(RStr::from_str("n")),
            ValueNode::Float(1.5),
            short("big"),
            ValueNode::UInt(u64::MAX),
        ]))
        .unwrap();
        let expected = json!({
            "items": [{"label": "a longer label, kept in its own string"}, []],
            "n": 1.5, "big": u64::MAX,
        });
        assert_eq!(value.to_json(), expected);
        assert_eq!(value.to_string(), expected.to_string());
        assert!(!value.is_null());
        assert!(NativeValue::checked(flat(vec![])).unwrap().is_null());
        assert!(NativeValue::checked(flat(vec![ValueNode::Null]))
            .unwrap()
            .is_null());
        assert_eq!(
            NativeValue::checked(flat(vec![])).unwrap().to_string(),
            "null"
        );
    }

    #[test]
    fn a_malformed_value_says_which_node_is_wrong() {
        let problem = |nodes| NativeValue::checked(flat(nodes)).unwrap_err().to_string();
        assert_eq!(
            problem(vec![ValueNode::List(2), ValueNode::Null]),
            "node 2: a container has fewer members than it says"
        );
        assert_eq!(
            problem(vec![ValueNode::Map(1), ValueNode::Int(1), ValueNode::Null]),
            "node 1: a map key that is not a string"
        );
        assert_eq!(
            problem(vec![ValueNode::Null, ValueNode::Null]),
            "node 1: nodes left over after the value"
        );
        assert_eq!(
            problem(vec![ValueNode::Float(f64::NAN)]),
            "node 0: a number JSON cannot hold (NaN or infinite)"
        );
        let mut not_utf8 = [0xff_u8; 32];
        not_utf8[0] = 2;
        // SAFETY: `ShortText` is `repr(C)`, a length byte and 31 bytes, any values allowed,
        // as a plugin built by other means could send them.
        let not_utf8: ShortText = unsafe { std::mem::transmute(not_utf8) };
        let lossy = NativeValue::checked(flat(vec![ValueNode::Short(not_utf8)])).unwrap();
        assert_eq!(lossy.to_json(), json!("\u{fffd}\u{fffd}"));
        assert_eq!(lossy.to_string(), "\"\u{fffd}\u{fffd}\"");
        let mut deep = vec![ValueNode::List(1); 200];
        deep.push(ValueNode::Null);
        assert_eq!(problem(deep), "node 128: nested more than 128 deep");
    }
}
