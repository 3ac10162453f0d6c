//! The only `unsafe` in netkit: thin libc wrappers for resource limits,
//! signals and the effective uid.
//!
//! Load tests open thousands of sockets; the default soft limit on open files
//! (often 1024) is far below that. Child processes inherit limits, so raising
//! it in the test process also covers `wrk -c 1k` or nginx started from it.

use std::sync::OnceLock;

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (once per process) and
/// return the resulting soft limit. Failure leaves the limit unchanged.
pub fn raise_fd_limit() -> u64 {
    static DONE: OnceLock<u64> = OnceLock::new();
    *DONE.get_or_init(raise_once)
}

fn raise_once() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; the pointer is valid.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur < lim.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we pass by valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            return wanted.rlim_cur;
        }
    }
    lim.rlim_cur
}

/// Send `signal` (e.g. `libc::SIGINT`) to the process `pid`.
///
/// Callers pass only PIDs of children they spawned and still own (see
/// [`crate::proc::ChildGuard::signal`]), so no unrelated process is hit.
pub fn send_signal(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "pid out of range"))?;
    if pid <= 0 {
        // 0 and negative values address process groups: never wanted here.
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "refusing to signal a process group",
        ));
    }
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether we run as root (network namespaces and iptables need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn soft_limit_reaches_hard_limit() {
        let soft = super::raise_fd_limit();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid pointer to a local struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(soft, lim.rlim_cur);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
    }
}
