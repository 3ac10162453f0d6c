//! Data paths of the socket tests (to be written).
