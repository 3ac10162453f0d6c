//! The `--json FILE` document: every test of the run, as it went, in one
//! JSON value written when the run ends (also after an error). Figures are
//! in base units, under the names the text output uses (the numbers `-uu`
//! prints); schema: `schemas/qperf.schema.json`. Latency histograms travel
//! losslessly (HdrHistogram V2 compressed, base64) so that runs can be
//! merged (issue 13).

use common::hdr::NsHistogram;
use serde_json::{json, Map, Value};

use super::lines::{stream_bandwidths, Figure, PERCENTILES};
use super::{CgroupUse, Extensions, Extras, Remote, StreamCounters};
use crate::proto::{Conf, Counters, Req};

/// Version of the document layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// The document being collected.
#[derive(Clone, Debug)]
pub struct Doc {
    pub path: String,
    command_line: Vec<String>,
    host: Option<String>,
    tests: Vec<Value>,
}

impl Doc {
    pub fn new(path: &str, args: &[String]) -> Doc {
        let mut command_line = vec!["qperf".to_string()];
        command_line.extend(args.iter().cloned());
        Doc {
            path: path.to_string(),
            command_line,
            host: None,
            tests: Vec::new(),
        }
    }

    pub fn set_host(&mut self, host: &str) {
        self.host = Some(host.to_string());
    }

    pub fn push(&mut self, t: Value) {
        self.tests.push(t);
    }

    /// The whole document.
    pub fn value(&self) -> Value {
        json!({
            "format_version": FORMAT_VERSION,
            "tool": "qperf-rs",
            "qperf_version": crate::wire::VERSION_TEXT,
            "command_line": self.command_line,
            "host": self.host,
            "tests": self.tests,
        })
    }

    /// Writes the document to its file.
    pub fn write(&self) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(&self.value()).unwrap_or_default();
        text.push('\n');
        std::fs::write(&self.path, text)
    }
}

/// The REQ fields of one side.
pub fn params(r: &Req) -> Value {
    json!({
        "access_recv": r.access_recv,
        "affinity": r.affinity,
        "alt_port": r.alt_port,
        "flip": r.flip,
        "msg_size": r.msg_size,
        "mtu_size": r.mtu_size,
        "no_msgs": r.no_msgs,
        "poll_mode": r.poll_mode,
        "port": r.port,
        "rd_atomic": r.rd_atomic,
        "sl": r.sl,
        "sock_buf_size": r.sock_buf_size,
        "src_path_bits": r.src_path_bits,
        "time": r.time,
        "timeout": r.timeout,
        "use_cm": r.use_cm,
        "id": r.id,
        "static_rate": r.static_rate,
    })
}

/// The start of one test's entry: name, parameters, extensions asked.
pub fn test_entry(name: &str, local: &Req, remote: &Req, ext: &Extensions) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("test".into(), json!(name));
    m.insert(
        "parameters".into(),
        json!({"local": params(local), "remote": params(remote)}),
    );
    m.insert(
        "extensions".into(),
        json!({
            "percentiles": ext.percentiles,
            "streams": ext.stream_count(),
            "cgroup_cpu": ext.cgroup_cpu,
        }),
    );
    m
}

pub fn figures(f: &[Figure]) -> Value {
    Value::Array(
        f.iter()
            .map(|f| json!({"name": f.name, "value": finite(f.value), "unit": f.unit}))
            .collect(),
    )
}

/// JSON has no NaN or infinity (a hostile STAT can produce them).
fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

pub fn histogram(h: &NsHistogram) -> Value {
    let mut m = Map::new();
    m.insert("unit".into(), json!("ns"));
    m.insert("measure".into(), json!("one-way latency: round trip / 2"));
    m.insert("count".into(), json!(h.count()));
    m.insert("min".into(), json!(h.min()));
    m.insert("mean".into(), finite(h.mean()));
    for (p, n) in PERCENTILES {
        m.insert(n.replace('.', "_"), json!(h.percentile(*p)));
    }
    m.insert("max".into(), json!(h.max()));
    m.insert("hdr_v2_deflate_base64".into(), json!(h.to_base64()));
    Value::Object(m)
}

fn counters(c: &Counters) -> Value {
    json!({"bytes": c.bytes, "msgs": c.msgs, "errors": c.errs})
}

fn stream(s: &StreamCounters) -> Value {
    json!({"send": counters(&s.s), "recv": counters(&s.r), "real_ticks": s.real_e.wrapping_sub(s.real_s)})
}

fn cgroup(c: &Option<CgroupUse>) -> Value {
    match c {
        Some(c) => json!({
            "usage_usec": c.usage_usec,
            "elapsed_ns": c.elapsed_ns,
            "cpus_used": finite(c.cpus_used()),
        }),
        None => Value::Null,
    }
}

/// The extensions' part of a test entry.
pub fn extras(
    m: &mut Map<String, Value>,
    local: &crate::proto::Stat,
    remote: &crate::proto::Stat,
    x: &Extras,
) {
    m.insert(
        "server".into(),
        json!(match x.server {
            Remote::Ours => "qperf-rs",
            Remote::Stock => "stock",
            Remote::NotAsked => "not asked",
        }),
    );
    if x.asked.percentiles {
        m.insert(
            "latency".into(),
            json!({
                "local": x.local.latency.as_ref().map(histogram),
                "remote": x.remote.latency.as_ref().map(histogram),
            }),
        );
    }
    if x.asked.stream_count() > 1 {
        let bws = stream_bandwidths(local, remote, x);
        let v: Vec<Value> = x
            .local
            .streams
            .iter()
            .zip(&x.remote.streams)
            .zip(bws)
            .enumerate()
            .map(|(i, ((l, r), bw))| {
                json!({"stream": i + 1, "bw": finite(bw), "local": stream(l), "remote": stream(r)})
            })
            .collect();
        m.insert("streams".into(), Value::Array(v));
    }
    if x.asked.cgroup_cpu {
        m.insert(
            "cgroup_cpu".into(),
            json!({"local": cgroup(&x.local.cgroup), "remote": cgroup(&x.remote.cgroup)}),
        );
    }
}

pub fn conf(local: &Conf, remote: &Conf) -> Value {
    let one = |c: &Conf| json!({"node": c.node, "cpu": c.cpu, "os": c.os, "qperf": c.qperf});
    json!({"local": one(local), "remote": one(remote)})
}
