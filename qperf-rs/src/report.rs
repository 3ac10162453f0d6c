//! Output of a test (spec qperf.md §6): which entries a result block has,
//! in which order, and which of them the verbosity settings let through;
//! the aligned rendering itself is `common::qperf`.

use std::io::{self, Write};

use common::qperf::{render_lines, Line, Units, Value};

use crate::params::{Kind, Params, Side, Slot, ALL};
use crate::proto::{Conf, Stat};
use crate::results::{Node, Results};
use crate::tests_table::ResultKind;

/// The four verbose levels (`-v`, `-vs`, `-vvt`, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verbosity {
    pub conf: u8,
    pub stat: u8,
    pub time: u8,
    pub used: u8,
}

/// Display settings from the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Display {
    pub units: Units,
    /// `-un`: always the loc/rem layout.
    pub unify_nodes: bool,
    pub verbose: Verbosity,
    /// `-D`: debug lines.
    pub debug: bool,
}

/// Visibility class of an entry (§6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Always,
    /// stat level 1 / 2
    S,
    SS,
    /// time level 1 / 2
    T,
    TT,
    /// used level 1
    U,
    /// `-D`
    D,
}

/// Collects the visible entries of one block.
struct Block<'a> {
    d: &'a Display,
    lines: Vec<Line>,
    /// With `--json`: every figure, visible or not, in base units.
    figs: Option<Vec<Figure>>,
}

/// One figure in base units (the numbers `-uu` prints), for `--json`.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
}

impl Block<'_> {
    fn visible(&self, c: Class, value: f64) -> bool {
        if c == Class::Always {
            return true;
        }
        // `!(value > 0)` also drops NaN, as stock's `value <= 0` would not;
        // a NaN can only come from a hostile STAT, so hiding it is fine.
        if value.is_nan() || value <= 0.0 {
            return false;
        }
        let v = self.d.verbose;
        match c {
            Class::Always => true,
            Class::S => v.stat >= 1,
            Class::SS => v.stat >= 2,
            Class::T => v.time >= 1,
            Class::TT => v.time >= 2,
            Class::U => v.used >= 1,
            Class::D => self.d.debug,
        }
    }

    fn push(&mut self, c: Class, name: String, raw: f64, make: impl FnOnce(&Units) -> Value) {
        if self.visible(c, raw) {
            let v = make(&self.d.units);
            self.lines.push(Line::new(name, v));
        }
    }

    /// Records a figure (with `--json`) under the name it prints as.
    fn fig(&mut self, name: impl Into<String>, value: f64, unit: &'static str) -> String {
        let name = name.into();
        if let Some(f) = &mut self.figs {
            f.push(Figure {
                name: name.clone(),
                value,
                unit,
            });
        }
        name
    }

    fn time(&mut self, c: Class, name: impl Into<String>, secs: f64) {
        let name = self.fig(name, secs * 1e9, "ns");
        self.push(c, name, secs * 1e9, |u| u.time(secs));
    }
    fn rate(&mut self, c: Class, name: impl Into<String>, v: f64) {
        let name = self.fig(name, v, "/sec");
        self.push(c, name, v, |u| u.rate(v));
    }
    fn band(&mut self, c: Class, name: impl Into<String>, v: f64) {
        let name = self.fig(name, v, "bytes/sec");
        self.push(c, name, v, |u| u.bandwidth(v));
    }
    fn cost(&mut self, c: Class, name: impl Into<String>, v: f64) {
        let name = self.fig(name, v * 1e9, "ns/GB");
        self.push(c, name, v * 1e9, |u| u.cost(v));
    }
    fn cpus(&mut self, c: Class, name: impl Into<String>, v: f64) {
        let name = self.fig(name, v * 100.0, "% cpus");
        self.push(c, name, v * 100.0, |u| u.percent_cpus(v));
    }
    fn long(&mut self, c: Class, name: impl Into<String>, v: u64) {
        let f = v as f64;
        let name = self.fig(name, f, "");
        self.push(c, name, f, |u| u.count(f));
    }
    fn size(&mut self, c: Class, name: impl Into<String>, v: u64) {
        let f = v as f64;
        let name = self.fig(name, f, "bytes");
        self.push(c, name, f, |u| u.size(f));
    }
    fn strn(&mut self, c: Class, name: impl Into<String>, v: &str) {
        let shown = if v.is_empty() { 0.0 } else { 1.0 };
        self.push(c, name.into(), shown, |_| Value::string(v));
    }
}

/// The entries of a measurement test's result block (§6.5), in order.
pub fn result_lines(d: &Display, kind: ResultKind, res: &Results, params: &Params) -> Vec<Line> {
    block(d, kind, res, params, false).lines
}

/// Every figure of a result block in base units, shown or not (`--json`):
/// the entries of [`result_lines`] under the same names, without the
/// parameter lines, plus the raw counters of `-D`.
pub fn result_figures(d: &Display, kind: ResultKind, res: &Results) -> Vec<Figure> {
    block(d, kind, res, &Params::new(), true)
        .figs
        .unwrap_or_default()
}

fn block<'a>(
    d: &'a Display,
    kind: ResultKind,
    res: &Results,
    params: &Params,
    figures: bool,
) -> Block<'a> {
    let mut b = Block {
        d,
        lines: Vec::new(),
        figs: figures.then(Vec::new),
    };
    match kind {
        ResultKind::Latency => {
            b.time(Class::Always, "latency", res.latency);
            b.rate(Class::S, "msg_rate", res.msg_rate);
        }
        ResultKind::MsgRate => b.rate(Class::Always, "msg_rate", res.msg_rate),
        ResultKind::Bandwidth => {
            b.band(Class::Always, "bw", res.recv_bw);
            b.rate(Class::S, "msg_rate", res.msg_rate);
        }
        ResultKind::BandwidthSr => {
            b.band(Class::Always, "send_bw", res.send_bw);
            b.band(Class::Always, "recv_bw", res.recv_bw);
            b.rate(Class::S, "msg_rate", res.msg_rate);
        }
    }
    if !figures {
        used_lines(&mut b, params);
    }
    b.cost(Class::T, "send_cost", res.send_cost);
    b.cost(Class::T, "recv_cost", res.recv_cost);
    node_lines(&mut b, res);
    if d.debug || figures {
        debug_lines(&mut b, "l_", &res.l);
        debug_lines(&mut b, "r_", &res.r);
    }
    b
}

/// The `-vu`/`-vvu` parameter lines (§6.6).
fn used_lines(b: &mut Block, params: &Params) {
    if b.d.verbose.used == 0 {
        return;
    }
    for p in ALL {
        let Some(name) = p.display_name() else {
            continue;
        };
        let l = params.slot(p, Side::Local);
        let r = params.slot(p, Side::Remote);
        if !l.inuse && !r.inuse {
            continue;
        }
        if b.d.verbose.used < 2 && !l.set && !r.set {
            continue;
        }
        let split = match p.kind() {
            Kind::Str => l.text != r.text,
            _ => l.num != r.num,
        };
        let pairs: Vec<(String, &Slot)> = if split {
            vec![(format!("loc_{name}"), l), (format!("rem_{name}"), r)]
        } else {
            vec![(name.to_string(), l)]
        };
        for (n, s) in pairs {
            match p.kind() {
                Kind::Count => b.long(Class::U, n, u64::from(s.num)),
                Kind::Size => b.size(Class::U, n, u64::from(s.num)),
                Kind::Time => b.time(Class::U, n, f64::from(s.num)),
                Kind::Str => b.strn(Class::U, n, &s.text),
            }
        }
    }
}

fn node_block(b: &mut Block, pre: &str, n: &Node) {
    b.cpus(Class::T, format!("{pre}cpus_used"), n.cpu_total);
    b.cpus(Class::TT, format!("{pre}cpus_user"), n.cpu_user);
    b.cpus(Class::TT, format!("{pre}cpus_intr"), n.cpu_intr);
    b.cpus(Class::TT, format!("{pre}cpus_kernel"), n.cpu_kernel);
    b.cpus(Class::TT, format!("{pre}cpus_iowait"), n.cpu_iowait);
    b.time(Class::TT, format!("{pre}real_time"), n.real_time);
    b.time(Class::TT, format!("{pre}cpu_time"), n.cpu_time);
}

fn node_lines(b: &mut Block, res: &Results) {
    let (l, r) = (&res.l, &res.r);
    let sr = if b.d.unify_nodes {
        None
    } else if l.s.bytes != 0 && r.s.bytes == 0 && r.r.bytes != 0 && l.r.bytes == 0 {
        Some(((&res.ln, l), (&res.rn, r)))
    } else if r.s.bytes != 0 && l.s.bytes == 0 && l.r.bytes != 0 && r.r.bytes == 0 {
        Some(((&res.rn, r), (&res.ln, l)))
    } else {
        None
    };
    if let Some(((sn, ss), (rn, rs))) = sr {
        node_block(b, "send_", sn);
        b.long(Class::SS, "send_errors", ss.s.errs);
        b.size(Class::SS, "send_bytes", ss.s.bytes);
        b.long(Class::SS, "send_msgs", ss.s.msgs);
        b.long(Class::SS, "send_max_cqe", u64::from(ss.max_cqes));
        node_block(b, "recv_", rn);
        b.long(Class::SS, "recv_errors", rs.r.errs);
        b.size(Class::SS, "recv_bytes", rs.r.bytes);
        b.long(Class::SS, "recv_msgs", rs.r.msgs);
        b.long(Class::SS, "recv_max_cqe", u64::from(rs.max_cqes));
    } else {
        for (pre, n, s) in [("loc_", &res.ln, l), ("rem_", &res.rn, r)] {
            node_block(b, pre, n);
            b.long(Class::SS, format!("{pre}send_errors"), s.s.errs);
            b.long(Class::SS, format!("{pre}recv_errors"), s.r.errs);
            b.size(Class::SS, format!("{pre}send_bytes"), s.s.bytes);
            b.size(Class::SS, format!("{pre}recv_bytes"), s.r.bytes);
            b.long(Class::SS, format!("{pre}send_msgs"), s.s.msgs);
            b.long(Class::SS, format!("{pre}recv_msgs"), s.r.msgs);
            b.long(Class::SS, format!("{pre}max_cqe"), u64::from(s.max_cqes));
        }
    }
}

/// The `-D` lines of one node (§6.5 item 5).
fn debug_lines(b: &mut Block, pre: &str, s: &Stat) {
    b.long(Class::D, format!("{pre}no_cpus"), u64::from(s.no_cpus));
    b.long(Class::D, format!("{pre}no_ticks"), u64::from(s.no_ticks));
    b.long(Class::D, format!("{pre}max_cqes"), u64::from(s.max_cqes));
    if s.no_ticks != 0 {
        let t = f64::from(s.no_ticks);
        let (a, e) = (&s.time_s, &s.time_e);
        let d = |x: u64, y: u64| y.wrapping_sub(x) as f64 / t;
        let timers = [
            ("real", d(a.real, e.real)),
            ("user", d(a.user, e.user)),
            ("nice", d(a.nice, e.nice)),
            ("system", d(a.kernel, e.kernel)),
            ("idle", d(a.idle, e.idle)),
            ("iowait", d(a.iowait, e.iowait)),
            ("irq", d(a.irq, e.irq)),
            ("softirq", d(a.softirq, e.softirq)),
            ("steal", d(a.steal, e.steal)),
        ];
        for (n, v) in timers {
            b.time(Class::D, format!("{pre}timer_{n}"), v);
        }
    }
    for (c, cn) in [
        (&s.s, "s"),
        (&s.r, "r"),
        (&s.rem_s, "rem_s"),
        (&s.rem_r, "rem_r"),
    ] {
        b.size(Class::D, format!("{pre}{cn}_no_bytes"), c.bytes);
        b.long(Class::D, format!("{pre}{cn}_no_msgs"), c.msgs);
        b.long(Class::D, format!("{pre}{cn}_no_errs"), c.errs);
    }
}

/// The eight lines of the `conf` test (§6.7).
pub fn conf_lines(local: &Conf, remote: &Conf) -> Vec<Line> {
    let mut v = Vec::new();
    for (pre, c) in [("loc", local), ("rem", remote)] {
        v.push(Line::new(format!("{pre}_node"), Value::string(&c.node)));
        v.push(Line::new(format!("{pre}_cpu"), Value::string(&c.cpu)));
        v.push(Line::new(format!("{pre}_os"), Value::string(&c.os)));
        v.push(Line::new(format!("{pre}_qperf"), Value::string(&c.qperf)));
    }
    v
}

/// Renders the lines of a block (the header is printed before the test).
pub fn render<W: Write + ?Sized>(w: &mut W, lines: &[Line]) -> io::Result<()> {
    let mut buf = Vec::new();
    render_lines(&mut buf, lines)?;
    w.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Par;
    use crate::proto::{Counters, Ticks};
    use crate::results::compute;
    use proptest::prelude::*;

    fn render_str(lines: &[Line]) -> String {
        let mut v = Vec::new();
        render(&mut v, lines).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn zero_results_show_only_the_headline() {
        let d = Display::default();
        let res = compute(&Stat::default(), &Stat::default());
        let p = Params::new();
        let out = render_str(&result_lines(&d, ResultKind::BandwidthSr, &res, &p));
        assert_eq!(
            out,
            "    send_bw  =  0 bytes/sec\n    recv_bw  =  0 bytes/sec\n"
        );
        let out = render_str(&result_lines(&d, ResultKind::MsgRate, &res, &p));
        assert_eq!(out, "    msg_rate  =  0 /sec\n");
    }

    #[test]
    fn used_lines_split_local_and_remote() {
        let mut p = Params::new();
        p.user_num(Par::Affinity, Side::Local, (1, "-lca"), 2);
        p.use_both(Par::Affinity);
        p.user_text(Par::Id, Side::Local, (2, "-li"), "mlx4_0");
        p.use_both(Par::Id);
        let d = Display {
            verbose: Verbosity {
                used: 1,
                ..Verbosity::default()
            },
            ..Display::default()
        };
        let res = compute(&Stat::default(), &Stat::default());
        let out = render_str(&result_lines(&d, ResultKind::Latency, &res, &p));
        assert_eq!(
            out,
            "    latency       =  0 ns\n    loc_affinity  =  2 \n    loc_id        =  mlx4_0\n"
        );
    }

    fn ticks() -> impl Strategy<Value = Ticks> {
        prop::array::uniform9(any::<u64>()).prop_map(|a| Ticks {
            real: a[0],
            user: a[1],
            nice: a[2],
            kernel: a[3],
            idle: a[4],
            iowait: a[5],
            irq: a[6],
            softirq: a[7],
            steal: a[8],
        })
    }

    fn counters() -> impl Strategy<Value = Counters> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(bytes, msgs, errs)| Counters {
            bytes,
            msgs,
            errs,
        })
    }

    prop_compose! {
        fn stat()(no_cpus in any::<u32>(), no_ticks in any::<u32>(), max_cqes in any::<u32>(),
                  time_s in ticks(), time_e in ticks(), s in counters(), r in counters(),
                  rem_s in counters(), rem_r in counters()) -> Stat {
            Stat { no_cpus, no_ticks, max_cqes, time_s, time_e, s, r, rem_s, rem_r }
        }
    }

    proptest! {
        /// A hostile server's STAT can never make the client panic.
        #[test]
        fn any_stat_renders(l in stat(), r in stat(), e in 0usize..40, uu: bool, un: bool) {
            let d = Display {
                units: Units { precision: e, unify_units: uu, bits_per_sec: !uu },
                unify_nodes: un,
                verbose: Verbosity { conf: 2, stat: 2, time: 2, used: 2 },
                debug: true,
            };
            let res = compute(&l, &r);
            for kind in [ResultKind::Latency, ResultKind::Bandwidth,
                         ResultKind::BandwidthSr, ResultKind::MsgRate] {
                let lines = result_lines(&d, kind, &res, &Params::new());
                render_str(&lines);
            }
        }
    }
}
