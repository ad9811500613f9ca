//! Python hooks.
#![deny(missing_docs)]
