//! The extensions' output: one extra block after stock's result block (so
//! stock's lines, and their alignment, stay byte for byte), in qperf's own
//! number/unit style (`-e`, `-uu`, `-ub` respected).

use common::hdr::NsHistogram;
use common::qperf::{Line, Units, Value};

use super::{Extras, Remote, StreamCounters};
use crate::proto::Stat;
use crate::results;

/// The percentiles shown, with their line suffixes.
pub const PERCENTILES: &[(f64, &str)] =
    &[(50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99.9")];

pub use crate::report::Figure;

fn latency_figures(pre: &str, h: &NsHistogram) -> Vec<Figure> {
    let mut v: Vec<Figure> = PERCENTILES
        .iter()
        .map(|(p, n)| Figure {
            name: format!("{pre}latency_{n}"),
            value: h.percentile(*p) as f64,
            unit: "ns",
        })
        .collect();
    v.push(Figure {
        name: format!("{pre}latency_max"),
        value: h.max() as f64,
        unit: "ns",
    });
    v
}

/// The server's STAT for one stream: its counters and real-time ticks, the
/// CPU ticks of the whole test.
pub fn stream_stat(whole: &Stat, c: &StreamCounters) -> Stat {
    let mut s = *whole;
    s.s = c.s;
    s.r = c.r;
    s.time_s.real = c.real_s;
    s.time_e.real = c.real_e;
    s
}

/// Receive bandwidth of each stream by stock's maths on per-stream STATs.
pub fn stream_bandwidths(local: &Stat, remote: &Stat, x: &Extras) -> Vec<f64> {
    x.local
        .streams
        .iter()
        .zip(&x.remote.streams)
        .map(|(l, r)| results::compute(&stream_stat(local, l), &stream_stat(remote, r)).recv_bw)
        .collect()
}

/// Every extra figure of a test, in output order; plus a text line when
/// the server's view is unavailable.
pub fn figures(local: &Stat, remote: &Stat, x: &Extras) -> (Vec<Figure>, Option<String>) {
    let mut v = Vec::new();
    let mut note = None;
    if x.asked.percentiles {
        if let Some(h) = &x.local.latency {
            v.extend(latency_figures("loc_", h));
        }
        match (&x.server, &x.remote.latency) {
            (Remote::Ours, Some(h)) => v.extend(latency_figures("rem_", h)),
            (Remote::NotAsked, _) => note = Some("unavailable with --single_port".to_string()),
            _ => note = Some("unavailable: the server is not qperf-rs".to_string()),
        }
    }
    if x.asked.stream_count() > 1 {
        for (i, bw) in stream_bandwidths(local, remote, x).into_iter().enumerate() {
            v.push(Figure {
                name: format!("stream{}_bw", i + 1),
                value: bw,
                unit: "bytes/sec",
            });
        }
    }
    if x.asked.cgroup_cpu {
        for (pre, c) in [("loc_", &x.local.cgroup), ("rem_", &x.remote.cgroup)] {
            if let Some(c) = c {
                v.push(Figure {
                    name: format!("{pre}cgroup_cpus_used"),
                    value: c.cpus_used() * 100.0,
                    unit: "% cpus",
                });
            }
        }
    }
    (v, note)
}

/// The figures as qperf lines.
pub fn to_lines(u: &Units, figs: &[Figure], note: Option<&str>, x: &Extras) -> Vec<Line> {
    let mut lines: Vec<Line> = figs
        .iter()
        .map(|f| {
            let v = match f.unit {
                "ns" => u.time(f.value / 1e9),
                "bytes/sec" => u.bandwidth(f.value),
                _ => u.percent_cpus(f.value / 100.0),
            };
            Line::new(f.name.clone(), v)
        })
        .collect();
    if let Some(n) = note {
        lines.push(Line::new("rem_latency", Value::string(n)));
    }
    if x.asked.cgroup_cpu && x.local.cgroup.is_none() {
        lines.push(Line::new(
            "loc_cgroup_cpus_used",
            Value::string("unavailable: no cgroup CPU counter"),
        ));
    }
    if x.asked.cgroup_cpu && x.remote.cgroup.is_none() {
        let why = match x.server {
            Remote::Ours => "unavailable: no cgroup CPU counter on the server",
            Remote::Stock => "unavailable: the server is not qperf-rs",
            Remote::NotAsked => "unavailable with --single_port",
        };
        lines.push(Line::new("rem_cgroup_cpus_used", Value::string(why)));
    }
    lines
}
