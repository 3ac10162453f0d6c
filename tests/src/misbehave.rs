//! Misbehaving HTTP servers (being written).
