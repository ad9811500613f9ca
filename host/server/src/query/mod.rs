//! ftrack query language (being written).
