//! Free loopback ports: [`netkit::ports`], with the lookups that cannot fail
//! in a working test environment unwrapped.
//!
//! Prefer binding port 0 directly wherever the code under test allows it;
//! use these for tools that need a number up front (`qperf -lp`, nginx).

pub use netkit::ports::{free_port_dual, ipv6_loopback_available};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Panics
/// When no loopback port can be bound at all (the test cannot run).
pub fn free_port() -> u16 {
    netkit::ports::free_port().expect("testkit: cannot bind 127.0.0.1:0 (no loopback?)")
}

/// Two distinct free ports (for tools taking a control and a data port).
///
/// # Panics
/// When no loopback port can be bound at all.
pub fn free_port_pair() -> (u16, u16) {
    netkit::ports::free_port_pair().expect("testkit: cannot bind 127.0.0.1:0 (no loopback?)")
}
