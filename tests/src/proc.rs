//! Child processes owned by a test: [`netkit::proc`] re-exported (spawn,
//! capture, wait with a deadline, kill by PID on drop).

pub use netkit::proc::*;
