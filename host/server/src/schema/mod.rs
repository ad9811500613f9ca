//! ftrack entity schemas (being written).
