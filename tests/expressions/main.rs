//! The subscription expression tests of `connect-core`: every case of a corpus ftrack's own
//! parser judged, and properties of parsing, matching and printing over generated input.

mod corpus;
mod props;
