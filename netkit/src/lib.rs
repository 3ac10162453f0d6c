//! netkit: the plumbing netbench runs on, shared with the test kit.
//!
//! netbench starts servers as child processes, serves HTTP, builds pod-like
//! network namespaces and kube-proxy-like Services, and finds our built
//! binaries. The workspace's tests need the same pieces, so they live here,
//! in a product crate without panicking helpers; `testkit` re-exports them
//! (and adds the test-only conveniences that panic when a test cannot run).
//!
//! | module | job |
//! |---|---|
//! | [`proc`] | [`proc::ChildGuard`]: spawn, capture output, wait with a deadline, kill by PID on drop |
//! | [`http`] | [`http::HttpTarget`]: in-process hyper HTTP/1.1 server (routes, stall windows) |
//! | [`netns`] | root only: [`netns::Pod`] (namespace + veth) and [`netns::Service`] (iptables DNAT), tagged, removed on drop, stale sweep |
//! | [`ours`] | find our own built binaries (`target/<profile>/wrk`) |
//! | [`ports`] | free loopback ports, for tools that need a number up front |
//! | [`sys`] | the only `unsafe`: open-file limit, signals to our children, effective uid |

pub mod http;
pub mod netns;
pub mod ours;
pub mod ports;
pub mod proc;
pub mod sys;
