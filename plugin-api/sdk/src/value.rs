//! Building a handler's result in the form it crosses to the host ([`FlatValue`]), with
//! [`value!`](crate::value!): `json!`'s syntax, without making a `serde_json::Value` first.
//!
//! ```
//! use connect_plugin_api::value;
//!
//! let name = String::from("maya");
//! let result = value!({"items": [{"label": "Maya", "actionIdentifier": name}]});
//! assert_eq!(result.nodes.len(), 8);
//! ```
//!
//! String literals (keys and values) are borrowed from the plugin's library, strings of up to
//! [`ShortText::CAPACITY`] bytes are copied into their node, a longer `String` is moved, not
//! copied: the whole item above is one allocation. Any expression works as a value when its
//! type implements [`IntoFlatValue`]: strings, numbers, `bool`, `Option`, vectors and slices,
//! `format_args!(...)`, a `serde_json::Value` and another `FlatValue`. Handlers may also go on
//! returning `json!(...)`: the SDK converts it, at the cost of building the `Value` first.

use std::fmt::Write as _;

use abi_stable::std_types::{RStr, RString, RVec};
use serde_json::Value;

pub use crate::abi::{FlatValue, ShortText, ValueNode};

/// Writes one value, node by node, into a [`FlatValue`]. [`value!`](crate::value!) drives it;
/// by hand, each container is opened, filled and closed with its member count:
///
/// ```
/// use connect_plugin_api::value::ValueBuilder;
///
/// let mut out = ValueBuilder::new();
/// let list = out.open_list();
/// out.push_static("a");
/// out.push(2);
/// out.close(list, 2);
/// assert_eq!(out.finish(), connect_plugin_api::value!(["a", 2]));
/// ```
pub struct ValueBuilder {
    nodes: Vec<ValueNode>,
}

impl Default for ValueBuilder {
    fn default() -> Self {
        ValueBuilder::new()
    }
}

impl ValueBuilder {
    /// A builder with room for an action item (8 nodes), so that a typical result is one
    /// allocation.
    pub fn new() -> Self {
        ValueBuilder {
            nodes: Vec::with_capacity(8),
        }
    }

    /// Adds `value` (one value, however many nodes).
    pub fn push(&mut self, value: impl IntoFlatValue) {
        value.write_to(self);
    }

    /// Adds a string that lives as long as the plugin (a literal): borrowed, not copied.
    pub fn push_static(&mut self, text: &'static str) {
        self.nodes.push(ValueNode::Static(RStr::from_str(text)));
    }

    /// Adds a node as it is.
    pub fn push_node(&mut self, node: ValueNode) {
        self.nodes.push(node);
    }

    /// Opens a list; its items are the next values pushed, until [`ValueBuilder::close`].
    pub fn open_list(&mut self) -> OpenContainer {
        self.open(ValueNode::List(0))
    }

    /// Opens a map; its entries are the next pairs of a key (a string) and a value pushed,
    /// until [`ValueBuilder::close`].
    pub fn open_map(&mut self) -> OpenContainer {
        self.open(ValueNode::Map(0))
    }

    /// Adds a short string that `fill` writes in place (no copy of a whole node); when `fill`
    /// says it does not fit, adds nothing and returns false.
    fn push_short(&mut self, fill: impl FnOnce(&mut ShortText) -> bool) -> bool {
        self.nodes.push(ValueNode::Short(ShortText::EMPTY));
        let Some(ValueNode::Short(short)) = self.nodes.last_mut() else {
            unreachable!("a short string was just pushed")
        };
        let fits = fill(short);
        if !fits {
            self.nodes.pop();
        }
        fits
    }

    fn open(&mut self, node: ValueNode) -> OpenContainer {
        self.nodes.push(node);
        OpenContainer(self.nodes.len() - 1)
    }

    /// Closes `container` with its `count` members (items, or key-value entries).
    pub fn close(&mut self, container: OpenContainer, count: u32) {
        match &mut self.nodes[container.0] {
            ValueNode::List(n) | ValueNode::Map(n) => *n = count,
            other => unreachable!("an open container is a list or a map, not {other:?}"),
        }
    }

    /// The value written.
    pub fn finish(self) -> FlatValue {
        FlatValue {
            nodes: RVec::from(self.nodes),
        }
    }
}

/// A list or map [`ValueBuilder`] opened, to close once its members are written.
#[must_use = "close the container with its member count"]
pub struct OpenContainer(usize);

/// A value [`value!`](crate::value!) and [`ValueBuilder::push`] take, and handlers may
/// return.
pub trait IntoFlatValue {
    /// Writes the value's nodes.
    fn write_to(self, out: &mut ValueBuilder);

    /// The value as a [`FlatValue`] of its own.
    fn into_flat_value(self) -> FlatValue
    where
        Self: Sized,
    {
        let mut out = ValueBuilder::new();
        self.write_to(&mut out);
        out.finish()
    }
}

impl IntoFlatValue for FlatValue {
    fn write_to(self, out: &mut ValueBuilder) {
        out.nodes.extend(self.nodes);
    }

    fn into_flat_value(self) -> FlatValue {
        self
    }
}

impl IntoFlatValue for &str {
    fn write_to(self, out: &mut ValueBuilder) {
        if !out.push_short(|short| short.push_str(self)) {
            out.nodes.push(ValueNode::Text(RString::from(self)));
        }
    }
}

impl IntoFlatValue for String {
    fn write_to(self, out: &mut ValueBuilder) {
        if !out.push_short(|short| short.push_str(&self)) {
            out.nodes.push(ValueNode::Text(RString::from(self)));
        }
    }
}

impl IntoFlatValue for &String {
    fn write_to(self, out: &mut ValueBuilder) {
        self.as_str().write_to(out);
    }
}

/// `format_args!("App {i}")`: formatted straight into the node when it fits.
impl IntoFlatValue for std::fmt::Arguments<'_> {
    fn write_to(self, out: &mut ValueBuilder) {
        if let Some(text) = self.as_str() {
            return text.write_to(out);
        }
        if !out.push_short(|short| ShortWriter(short).write_fmt(self).is_ok()) {
            self.to_string().write_to(out);
        }
    }
}

/// Formats into a short text; fails when the text does not fit.
struct ShortWriter<'a>(&'a mut ShortText);

impl std::fmt::Write for ShortWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        match self.0.push_str(text) {
            true => Ok(()),
            false => Err(std::fmt::Error),
        }
    }
}

impl IntoFlatValue for bool {
    fn write_to(self, out: &mut ValueBuilder) {
        out.nodes.push(ValueNode::Bool(self));
    }
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl IntoFlatValue for $t {
            fn write_to(self, out: &mut ValueBuilder) {
                out.nodes.push(ValueNode::Int(i64::from(self)));
            }
        }
    )*};
}
signed!(i8, i16, i32, i64, u8, u16, u32);

impl IntoFlatValue for isize {
    fn write_to(self, out: &mut ValueBuilder) {
        out.nodes.push(ValueNode::Int(self as i64));
    }
}

impl IntoFlatValue for u64 {
    fn write_to(self, out: &mut ValueBuilder) {
        out.nodes.push(match i64::try_from(self) {
            Ok(small) => ValueNode::Int(small),
            Err(_) => ValueNode::UInt(self),
        });
    }
}

impl IntoFlatValue for usize {
    fn write_to(self, out: &mut ValueBuilder) {
        (self as u64).write_to(out);
    }
}

/// Not finite (NaN, infinities) is `null`, as in `serde_json`: JSON has no such numbers.
impl IntoFlatValue for f64 {
    fn write_to(self, out: &mut ValueBuilder) {
        out.nodes.push(match self.is_finite() {
            true => ValueNode::Float(self),
            false => ValueNode::Null,
        });
    }
}

impl IntoFlatValue for f32 {
    fn write_to(self, out: &mut ValueBuilder) {
        f64::from(self).write_to(out);
    }
}

/// `None` is `null`.
impl<T: IntoFlatValue> IntoFlatValue for Option<T> {
    fn write_to(self, out: &mut ValueBuilder) {
        match self {
            Some(value) => value.write_to(out),
            None => out.nodes.push(ValueNode::Null),
        }
    }
}

impl<T: IntoFlatValue> IntoFlatValue for Vec<T> {
    fn write_to(self, out: &mut ValueBuilder) {
        let list = out.open_list();
        let count = self.len() as u32;
        for item in self {
            item.write_to(out);
        }
        out.close(list, count);
    }
}

impl<T: IntoFlatValue + Clone> IntoFlatValue for &[T] {
    fn write_to(self, out: &mut ValueBuilder) {
        let list = out.open_list();
        for item in self {
            item.clone().write_to(out);
        }
        out.close(list, self.len() as u32);
    }
}

impl IntoFlatValue for Value {
    fn write_to(self, out: &mut ValueBuilder) {
        match self {
            Value::Null => out.nodes.push(ValueNode::Null),
            Value::Bool(flag) => flag.write_to(out),
            Value::Number(number) => match (number.as_i64(), number.as_u64()) {
                (Some(int), _) => int.write_to(out),
                (None, Some(uint)) => uint.write_to(out),
                _ => number.as_f64().write_to(out),
            },
            Value::String(text) => text.write_to(out),
            Value::Array(items) => items.write_to(out),
            Value::Object(map) => {
                let container = out.open_map();
                let count = map.len() as u32;
                for (key, value) in map {
                    key.write_to(out);
                    value.write_to(out);
                }
                out.close(container, count);
            }
        }
    }
}

impl IntoFlatValue for &Value {
    fn write_to(self, out: &mut ValueBuilder) {
        self.clone().write_to(out);
    }
}

/// A handler's result in the form it crosses to the host, written with `json!`'s syntax:
/// `value!({"items": [{"label": "Maya", "actionIdentifier": id}]})`.
///
/// Keys are string literals or `(expressions)`; values are `null`, `[lists]`, `{maps}`,
/// literals, or any expression whose type implements
/// [`IntoFlatValue`](crate::value::IntoFlatValue). See [`mod@crate::value`].
#[macro_export]
macro_rules! value {
    ($($value:tt)+) => {{
        let mut out = $crate::value::ValueBuilder::new();
        $crate::__value_write!(out; $($value)+);
        out.finish()
    }};
}

/// [`value!`]'s parts: writes one value into the builder `$out`.
#[doc(hidden)]
#[macro_export]
macro_rules! __value_write {
    ($out:ident; null) => {
        $out.push_node($crate::value::ValueNode::Null)
    };
    ($out:ident; [ $($items:tt)* ]) => {{
        let list = $out.open_list();
        $crate::__value_write!(@list $out list [] () $($items)*);
    }};
    ($out:ident; { $($entries:tt)* }) => {{
        let map = $out.open_map();
        $crate::__value_write!(@map $out map [] $($entries)*);
    }};
    ($out:ident; $text:literal) => {
        $crate::value::Literal::write_literal($text, &mut $out)
    };
    ($out:ident; $value:expr) => {
        $out.push($value)
    };

    // A list's items: tokens gather in `(...)` until a comma ends the item; `[...]` counts.
    (@list $out:ident $list:ident [$($n:tt)*] ()) => {
        $out.close($list, 0 $(+ $n)*)
    };
    (@list $out:ident $list:ident [$($n:tt)*] ($($item:tt)+)) => {{
        $crate::__value_write!($out; $($item)+);
        $out.close($list, 1 $(+ $n)*);
    }};
    (@list $out:ident $list:ident [$($n:tt)*] ($($item:tt)+) , $($rest:tt)*) => {{
        $crate::__value_write!($out; $($item)+);
        $crate::__value_write!(@list $out $list [$($n)* 1] () $($rest)*);
    }};
    (@list $out:ident $list:ident [$($n:tt)*] ($($item:tt)*) $next:tt $($rest:tt)*) => {
        $crate::__value_write!(@list $out $list [$($n)*] ($($item)* $next) $($rest)*)
    };

    // A map's entries: a key, `:`, then the value's tokens until a comma.
    (@map $out:ident $map:ident [$($n:tt)*]) => {
        $out.close($map, 0 $(+ $n)*)
    };
    (@map $out:ident $map:ident [$($n:tt)*] $key:literal : $($rest:tt)*) => {{
        $out.push_static($key);
        $crate::__value_write!(@entry $out $map [$($n)* 1] () $($rest)*);
    }};
    (@map $out:ident $map:ident [$($n:tt)*] ($key:expr) : $($rest:tt)*) => {{
        $out.push($key);
        $crate::__value_write!(@entry $out $map [$($n)* 1] () $($rest)*);
    }};
    (@entry $out:ident $map:ident [$($n:tt)*] ($($value:tt)+)) => {{
        $crate::__value_write!($out; $($value)+);
        $crate::__value_write!(@map $out $map [$($n)*]);
    }};
    (@entry $out:ident $map:ident [$($n:tt)*] ($($value:tt)+) , $($rest:tt)*) => {{
        $crate::__value_write!($out; $($value)+);
        $crate::__value_write!(@map $out $map [$($n)*] $($rest)*);
    }};
    (@entry $out:ident $map:ident [$($n:tt)*] ($($value:tt)*) $next:tt $($rest:tt)*) => {
        $crate::__value_write!(@entry $out $map [$($n)*] ($($value)* $next) $($rest)*)
    };
}

/// A literal in [`value!`](crate::value!): string literals are borrowed, not copied.
#[doc(hidden)]
pub trait Literal {
    fn write_literal(self, out: &mut ValueBuilder);
}

impl Literal for &'static str {
    fn write_literal(self, out: &mut ValueBuilder) {
        out.push_static(self);
    }
}

macro_rules! literal_by_value {
    ($($t:ty),*) => {$(
        impl Literal for $t {
            fn write_literal(self, out: &mut ValueBuilder) {
                out.push(self);
            }
        }
    )*};
}
literal_by_value!(bool, i8, i16, i32, i64, u8, u16, u32, u64, isize, usize, f32, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn short(text: &str) -> ValueNode {
        ValueNode::Short(ShortText::new(text).unwrap())
    }

    #[test]
    fn the_macro_lays_out_an_action_item_in_one_vector() {
        let id = String::from("app-1");
        let item = crate::value!({"items": [{"label": "App 1", "actionIdentifier": id}]});
        assert_eq!(
            item.nodes.as_slice(),
            [
                ValueNode::Map(1),
                ValueNode::Static("items".into()),
                ValueNode::List(1),
                ValueNode::Map(2),
                ValueNode::Static("label".into()),
                ValueNode::Static("App 1".into()),
                ValueNode::Static("actionIdentifier".into()),
                short("app-1"),
            ]
        );
        assert_eq!(item.nodes.capacity(), 8, "one allocation");
    }

    #[test]
    fn the_macro_reads_what_json_reads() {
        let long = "a string too long to be kept inside its node".to_string();
        let n = 3;
        let made = crate::value!({
            "null": null, "yes": true, "int": -2, "big": u64::MAX, "float": 1.5,
            "nan": f64::NAN, "sum": n + 1, "nested": [[], {}, [1, [2]]],
            ("computed key"): format_args!("n={n}"), "long": long.clone(),
            "json": json!({"x": [1, "y"]}), "none": Option::<u8>::None,
            "list": vec!["a", "b"], "trailing": [1, 2,],
        });
        let mut expected = crate::value::ValueBuilder::new();
        expected.push(json!({
            "null": null, "yes": true, "int": -2, "big": u64::MAX, "float": 1.5,
            "nan": null, "sum": 4, "nested": [[], {}, [1, [2]]],
            "computed key": "n=3", "long": long,
            "json": {"x": [1, "y"]}, "none": null,
            "list": ["a", "b"], "trailing": [1, 2],
        }));
        assert_eq!(
            format!("{:?}", made.nodes).replace("Static(", "Short("),
            format!("{:?}", expected.finish().nodes),
            "the same nodes, literals borrowed instead of copied"
        );
    }

    #[test]
    fn long_strings_are_moved_and_short_ones_kept_inside() {
        let most = "x".repeat(ShortText::CAPACITY);
        let long = format!("{most}y");
        let pointer = long.as_ptr();
        let flat = crate::value!([most.as_str(), long, format_args!("{most}z")]);
        assert_eq!(flat.nodes[1], short(&most));
        match &flat.nodes[2] {
            ValueNode::Text(text) => assert_eq!(text.as_ptr(), pointer, "moved, not copied"),
            other => panic!("{other:?}"),
        }
        assert_eq!(flat.nodes[3], ValueNode::Text(format!("{most}z").into()));
    }
}
