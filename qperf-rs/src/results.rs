//! Result maths (spec qperf.md §5): from the client's own STAT and the
//! server's STAT to latency, rates, bandwidths, costs and per-node CPU
//! figures, with stock's quirks kept on purpose (32-bit float cpu_time,
//! latency from the client's time only, one-way msg_rate crossing sides).

use crate::proto::{Counters, Stat, Ticks};

/// Per-node figures (§5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Node {
    pub real_time: f64,
    pub cpu_time: f64,
    pub cpu_user: f64,
    pub cpu_intr: f64,
    pub cpu_kernel: f64,
    pub cpu_iowait: f64,
    pub cpu_total: f64,
}

/// Everything a result block is made of.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Results {
    /// Client STAT after merging the server's attributions (§5.1).
    pub l: Stat,
    /// Server STAT after merging the client's attributions.
    pub r: Stat,
    pub ln: Node,
    pub rn: Node,
    pub latency: f64,
    pub msg_rate: f64,
    pub send_bw: f64,
    pub recv_bw: f64,
    pub send_cost: f64,
    pub recv_cost: f64,
}

fn add(a: &mut Counters, b: &Counters) {
    a.bytes = a.bytes.wrapping_add(b.bytes);
    a.msgs = a.msgs.wrapping_add(b.msgs);
    a.errs = a.errs.wrapping_add(b.errs);
}

fn delta(s: &Ticks, e: &Ticks) -> Ticks {
    Ticks {
        real: e.real.wrapping_sub(s.real),
        user: e.user.wrapping_sub(s.user),
        nice: e.nice.wrapping_sub(s.nice),
        kernel: e.kernel.wrapping_sub(s.kernel),
        idle: e.idle.wrapping_sub(s.idle),
        iowait: e.iowait.wrapping_sub(s.iowait),
        irq: e.irq.wrapping_sub(s.irq),
        softirq: e.softirq.wrapping_sub(s.softirq),
        steal: e.steal.wrapping_sub(s.steal),
    }
}

/// Per-node figures from one STAT (§5.2).
pub fn node(stat: &Stat) -> Node {
    let d = delta(&stat.time_s, &stat.time_e);
    if d.real == 0 || stat.no_ticks == 0 {
        return Node::default();
    }
    let s = d.real as f64;
    let busy = d
        .user
        .wrapping_add(d.nice)
        .wrapping_add(d.kernel)
        .wrapping_add(d.iowait)
        .wrapping_add(d.irq)
        .wrapping_add(d.softirq)
        .wrapping_add(d.steal);
    let cpu_user = d.user.wrapping_add(d.nice) as f64 / s;
    let cpu_intr = d.irq.wrapping_add(d.softirq) as f64 / s;
    let cpu_kernel = d.kernel.wrapping_add(d.steal) as f64 / s;
    let cpu_iowait = d.iowait as f64 / s;
    Node {
        real_time: s / f64::from(stat.no_ticks),
        // Stock divides in single precision.
        cpu_time: f64::from(busy as f32 / stat.no_ticks as f32),
        cpu_user,
        cpu_intr,
        cpu_kernel,
        cpu_iowait,
        cpu_total: cpu_user + cpu_intr + cpu_kernel + cpu_iowait,
    }
}

/// Computes the results of one test from the client's (`local`) and the
/// server's (`remote`) STAT.
pub fn compute(local: &Stat, remote: &Stat) -> Results {
    let mut l = *local;
    let mut r = *remote;
    add(&mut l.s, &remote.rem_s);
    add(&mut l.r, &remote.rem_r);
    add(&mut r.s, &local.rem_s);
    add(&mut r.r, &local.rem_r);

    let ln = node(&l);
    let rn = node(&r);
    let mut res = Results {
        l,
        r,
        ln,
        rn,
        ..Results::default()
    };
    let no_msgs = l.r.msgs.wrapping_add(r.r.msgs) as f64;
    if no_msgs != 0.0 {
        res.latency = ln.real_time / no_msgs;
    }
    let lt = ln.real_time;
    let rt = rn.real_time;
    let mid = (lt + rt) / 2.0;
    if lt == 0.0 || rt == 0.0 {
        return res;
    }
    let f = |v: u64| v as f64;
    // One side's count over the time given for it when the other counted
    // nothing, else both over the mean time. Stock divides the local-only
    // message count by the remote time and the byte counts the other way.
    let per_sec = |lv: u64, rv: u64, l_only: f64, r_only: f64| {
        if rv == 0 {
            f(lv) / l_only
        } else if lv == 0 {
            f(rv) / r_only
        } else {
            f(lv.wrapping_add(rv)) / mid
        }
    };
    res.msg_rate = per_sec(l.r.msgs, r.r.msgs, rt, lt);
    res.send_bw = per_sec(l.s.bytes, r.s.bytes, lt, rt);
    res.recv_bw = per_sec(l.r.bytes, r.r.bytes, lt, rt);
    let gb = 1e9;
    if l.s.bytes != 0 && l.r.bytes == 0 && r.s.bytes == 0 {
        res.send_cost = ln.cpu_time * gb / f(l.s.bytes);
    } else if r.s.bytes != 0 && r.r.bytes == 0 && l.s.bytes == 0 {
        res.send_cost = rn.cpu_time * gb / f(r.s.bytes);
    }
    if r.r.bytes != 0 && r.s.bytes == 0 && l.r.bytes == 0 {
        res.recv_cost = rn.cpu_time * gb / f(r.r.bytes);
    } else if l.r.bytes != 0 && l.s.bytes == 0 && r.r.bytes == 0 {
        res.recv_cost = ln.cpu_time * gb / f(l.r.bytes);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(real: u64, user: u64, kernel: u64) -> Stat {
        Stat {
            no_cpus: 2,
            no_ticks: 100,
            time_s: Ticks::default(),
            time_e: Ticks {
                real,
                user,
                kernel,
                ..Ticks::default()
            },
            ..Stat::default()
        }
    }

    #[test]
    fn tcp_bw_like() {
        let mut l = stat(100, 1, 126);
        l.s = Counters {
            bytes: 71_426 * 65_536,
            msgs: 71_426,
            errs: 0,
        };
        let mut r = stat(100, 1, 125);
        r.r = Counters {
            bytes: 71_427 * 65_536,
            msgs: 71_427,
            errs: 0,
        };
        let res = compute(&l, &r);
        assert_eq!(res.ln.real_time, 1.0);
        assert_eq!(res.recv_bw, 71_427.0 * 65_536.0);
        assert_eq!(res.send_bw, 71_426.0 * 65_536.0);
        assert_eq!(res.msg_rate, 71_427.0);
        assert!((res.ln.cpu_total - 1.27).abs() < 1e-12);
        assert!(res.send_cost > 0.0 && res.recv_cost > 0.0);
        assert_eq!(res.latency, 1.0 / 71_427.0);
    }

    #[test]
    fn float32_cpu_time() {
        // 166 ticks at 100 Hz: the single-precision quotient prints as
        // 1659999967 ns under -uu.
        let n = node(&stat(100, 166, 0));
        assert_eq!(format!("{:.0}", n.cpu_time * 1e9), "1659999967");
    }

    #[test]
    fn zero_time_gives_zero() {
        let res = compute(&Stat::default(), &Stat::default());
        assert_eq!(res, Results::default());
    }
}
