//! The load engine: one event loop per thread (to be written).
