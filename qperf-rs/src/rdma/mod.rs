//! RDMA tests (spec §4.14): the node exchange ([`node`]), the device
//! parameters and stock's error texts ([`setup`]), the data loops
//! ([`loops`]) written against a small verbs interface ([`verbs`]), which
//! the real device ([`ibv`], feature `rdma`, the only unsafe FFI) and an
//! in-memory fake ([`fake`]) implement.

pub mod fake;
pub mod loops;
pub mod node;
pub mod setup;
pub mod verbs;

#[cfg(test)]
mod tests;

pub mod session;

/// The device backend of this build.
#[cfg(not(feature = "rdma"))]
pub type Device = session::NoDevice;

#[cfg(feature = "rdma")]
pub mod ibv;

/// The device backend of this build.
#[cfg(feature = "rdma")]
pub type Device = ibv::Device;

#[cfg(test)]
mod session_tests;
