//! Open-file limit handling (issue 4 part 5).
//!
//! wrk runs with whatever `ulimit -n` it was given and, when connections do
//! not fit, silently loses them (thousands of connect/read errors). We raise
//! the soft RLIMIT_NOFILE to the hard limit at start, and when the requested
//! connections still cannot fit we say so on stderr before the run (the run
//! still happens, the excess connections fail like wrk's).

/// Descriptors we need besides the sockets: stdio, the signal pipe, one
/// epoll instance per thread plus a timerfd in `-R` mode (measured: with
/// `ulimit -n 300`, `-t1 -c500` gets exactly 208 connect errors).
pub fn overhead(threads: u64) -> u64 {
    6 + threads.saturating_mul(2)
}

/// Raises the soft open-file limit to the hard limit (capped at the
/// kernel's `fs.nr_open`, since an "unlimited" hard limit cannot be set as
/// the soft one); returns the soft limit in effect afterwards.
pub fn raise_nofile() -> u64 {
    let Ok((soft, hard)) = crate::sys::nofile_limit() else {
        return u64::MAX;
    };
    let mut targets = vec![hard];
    if let Some(n) = nr_open() {
        targets.push(n.min(hard));
    }
    for want in targets {
        if want <= soft {
            break;
        }
        if crate::sys::set_nofile_limit(want, hard).is_ok() {
            return want;
        }
    }
    soft
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The warning to print when `sockets` connections over `threads` threads
/// do not fit under `limit` descriptors.
pub fn check(sockets: u64, threads: u64, limit: u64) -> Option<String> {
    let need = sockets.saturating_add(overhead(threads));
    if need <= limit {
        return None;
    }
    let usable = limit.saturating_sub(overhead(threads));
    Some(format!(
        "wrk: open file limit ({limit}) is too low for {sockets} connections: \
         about {} will fail to connect (raise the hard limit: ulimit -Hn)",
        sockets.saturating_sub(usable)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_or_warns() {
        assert_eq!(check(100, 2, 1024), None);
        let w = check(20_000, 64, 1024).expect("warning");
        assert!(
            w.contains("(1024)") && w.contains("20000 connections"),
            "{w}"
        );
        assert!(w.contains("about 19110 will fail"), "{w}");
        assert!(check(500, 1, 300)
            .expect("warning")
            .contains("about 208 will"));
        assert!(raise_nofile() > 0);
    }
}
