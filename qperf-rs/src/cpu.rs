//! CPU tick counters of one side (spec §4.6): `times()` for the real-time
//! tick count, then the first eight numbers of the aggregate `cpu ` line of
//! `/proc/stat`.  Only differences between two samples matter.

use crate::proto::{Counters, Stat, Ticks};
use crate::sys;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_sec() -> u32 {
    sys::sysconf(libc::_SC_CLK_TCK)
        .and_then(|t| u32::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Online processors (`sysconf(_SC_NPROCESSORS_ONLN)`).
pub fn online_cpus() -> u32 {
    sys::sysconf(libc::_SC_NPROCESSORS_ONLN)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// Parses the `cpu ` line of `/proc/stat` text into `t` (all but `real`).
/// Missing columns stay 0; extra columns are ignored.
pub fn parse_proc_stat(text: &str, t: &mut Ticks) {
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return;
    };
    let mut v = [0u64; 8];
    for (slot, word) in v.iter_mut().zip(line.split_whitespace().skip(1)) {
        *slot = word.parse().unwrap_or(0);
    }
    [
        t.user, t.nice, t.kernel, t.idle, t.iowait, t.irq, t.softirq, t.steal,
    ] = v;
}

/// This side's STAT from the measured ticks and counters (§4.6).
pub fn local_stat([time_s, time_e]: [Ticks; 2], [s, r]: [Counters; 2]) -> Stat {
    Stat {
        no_cpus: online_cpus(),
        no_ticks: ticks_per_sec(),
        time_s,
        time_e,
        s,
        r,
        ..Stat::default()
    }
}

/// Samples the counters now.
pub fn sample() -> Ticks {
    let mut t = Ticks {
        real: sys::times(),
        ..Ticks::default()
    };
    if let Ok(text) = std::fs::read_to_string("/proc/stat") {
        parse_proc_stat(&text, &mut t);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_line() {
        let mut t = Ticks::default();
        parse_proc_stat("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 9 9 9 9 9 9 9 9\n", &mut t);
        assert_eq!((t.user, t.nice, t.kernel, t.idle), (1, 2, 3, 4));
        assert_eq!((t.iowait, t.irq, t.softirq, t.steal), (5, 6, 7, 8));
    }

    #[test]
    fn missing_steal_is_zero() {
        let mut t = Ticks::default();
        parse_proc_stat("cpu 1 2 3 4 5 6 7\n", &mut t);
        assert_eq!((t.softirq, t.steal), (7, 0));
    }

    #[test]
    fn sample_moves_forward() {
        let a = sample();
        assert!(a.real > 0);
        assert!(a.idle > 0 || a.user > 0);
        assert!(ticks_per_sec() > 0 && online_cpus() > 0);
    }
}
