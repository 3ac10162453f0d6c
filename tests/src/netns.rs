//! Root-only network fixtures: [`netkit::netns`] re-exported ([`Pod`]: a
//! namespace behind a veth pair; [`Service`]: kube-proxy-like DNAT), tagged
//! per process and removed on drop, panic included; stale ones swept.
//! Tests call [`unavailable`] first and skip with its reason.

pub use netkit::netns::*;
