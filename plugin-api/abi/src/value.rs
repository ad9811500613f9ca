//! The form a handler's result crosses the boundary in: a JSON value laid out flat.
//!
//! Why not JSON text, as before ABI 0.5.0: the plugin had to build a `serde_json::Value` and
//! write it out, and the host had to read the text back to check it, then again for whoever
//! wanted the value: about 500 ns for one action item, five times the cost of the hub calling
//! the handler. Why not a tree of `RVec`s: every list and map would be an allocation of its
//! own. A [`FlatValue`] is one vector of [`ValueNode`]s in pre-order (a container, then its
//! members): one allocation for a whole action item, whose keys and literal strings are
//! borrowed from the plugin's library ([`ValueNode::Static`]) and whose short strings are kept
//! inside their node ([`ValueNode::Short`]).
//!
//! `{"items": [{"label": "App 1"}]}` is, node by node:
//!
//! ```text
//! Map(1)  Static("items")  List(1)  Map(1)  Static("label")  Short("App 1")
//! ```
//!
//! A map's `n` entries are `n` pairs of a key (a string node) and a value; a list's `n` items
//! follow it. The host checks the shape before it keeps a result (counts that fit, keys that
//! are strings, finite numbers, at most 128 levels deep): a malformed value is the handler's
//! error, never the host's crash. A short string's bytes are read as UTF-8 with any invalid
//! sequence replaced (the SDK never writes one).

use abi_stable::{
    std_types::{RStr, RString, RVec},
    StableAbi,
};

/// One handler's result: a JSON value as [`ValueNode`]s in pre-order (see the module docs).
/// An empty vector is `null`.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Default)]
pub struct FlatValue {
    /// The nodes, a container before its members.
    pub nodes: RVec<ValueNode>,
}

/// One node of a [`FlatValue`].
#[repr(C, u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum ValueNode {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// A finite number.
    Float(f64),
    /// A string the plugin's library holds, borrowed (literals): the host never unloads a
    /// library it loaded, so it lives as long as the result.
    Static(RStr<'static>),
    /// A string of at most [`ShortText::CAPACITY`] bytes, inside the node.
    Short(ShortText),
    /// A longer string.
    Text(RString),
    /// A list: its `n` items follow.
    List(u32),
    /// A map: its `n` entries follow, each a key (`Static`, `Short` or `Text`) then its value.
    Map(u32),
}

/// A string kept inside its node: no allocation of its own.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq)]
pub struct ShortText {
    len: u8,
    bytes: [u8; ShortText::CAPACITY],
}

impl ShortText {
    /// The most bytes a short string holds (the size of [`ValueNode::Text`]'s string, less
    /// the length byte, so that short strings make no node bigger).
    pub const CAPACITY: usize = 31;

    /// No text.
    pub const EMPTY: ShortText = ShortText {
        len: 0,
        bytes: [0; ShortText::CAPACITY],
    };

    /// `text` inside a node, when it fits.
    pub fn new(text: &str) -> Option<ShortText> {
        let mut short = ShortText::EMPTY;
        short.push_str(text).then_some(short)
    }

    /// Appends `text` when it fits (and returns true); leaves the text as it was otherwise.
    pub fn push_str(&mut self, text: &str) -> bool {
        let start = usize::from(self.len);
        let end = start + text.len();
        match self.bytes.get_mut(start..end) {
            Some(room) => {
                room.copy_from_slice(text.as_bytes());
                self.len = end as u8;
                true
            }
            None => false,
        }
    }

    /// The bytes as the plugin wrote them: UTF-8 when made by [`ShortText::new`], but the
    /// fields cross the boundary, so readers check.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(ShortText::CAPACITY)]
    }
}

impl std::fmt::Debug for ShortText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&String::from_utf8_lossy(self.bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_text_holds_up_to_its_capacity() {
        let most = "x".repeat(ShortText::CAPACITY);
        assert_eq!(ShortText::new(&most).unwrap().bytes(), most.as_bytes());
        assert_eq!(ShortText::new("").unwrap().bytes(), b"");
        assert!(ShortText::new(&format!("{most}x")).is_none());
        assert_eq!(
            std::mem::size_of::<ValueNode>(),
            std::mem::size_of::<usize>() + std::mem::size_of::<RString>(),
            "a short text makes no node bigger"
        );
    }
}
