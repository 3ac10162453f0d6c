//! Decodes every annotated hex dump in `compat/golden/qperf/wire_*.txt`
//! with our codec and checks each annotated field, plus a byte-exact
//! re-encode of every REQ, STAT and port message.

use std::collections::HashMap;

use qperf_rs::proto::{Counters, Req, Stat, Ticks};
use qperf_rs::wire;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../compat/golden/qperf");

/// One message annotation: its header line and its `+OFF name ... = V` lines.
struct Note {
    dir: &'static str,
    header: String,
    fields: Vec<(String, String)>,
}

/// Per-direction in-band byte streams, urgent bytes, and the annotations.
#[derive(Default)]
struct Capture {
    inband: HashMap<&'static str, Vec<u8>>,
    urgent: Vec<(&'static str, u8)>,
    notes: Vec<Note>,
}

fn parse(text: &str) -> Capture {
    let mut cap = Capture::default();
    let mut dir = "C->S";
    let mut urgent = false;
    for line in text.lines() {
        if line.starts_with("t=") && line.contains(" segment of ") {
            dir = if line.contains("C->S") {
                "C->S"
            } else {
                "S->C"
            };
            urgent = line.contains("URG flag");
        } else if line.len() > 8
            && line.starts_with("  ")
            && line[2..6].chars().all(|c| c.is_ascii_hexdigit())
            && &line[6..8] == "  "
        {
            let hex = &line[8..line.len().min(8 + 48)];
            for tok in hex.split_whitespace() {
                let b = u8::from_str_radix(tok, 16).expect("hex byte");
                if urgent {
                    cap.urgent.push((dir, b));
                } else {
                    cap.inband.entry(dir).or_default().push(b);
                }
            }
        } else if let Some(rest) = line.strip_prefix("      +") {
            let note = cap.notes.last_mut().expect("field after a header");
            let after = rest[4..].trim_start();
            let (name, tail) = after.split_once(' ').unwrap_or((after, ""));
            let value = tail.rsplit_once(" = ").map_or(tail.trim(), |(_, v)| v);
            let (name, value) = (name.to_string(), value.to_string());
            note.fields.push((name, value));
        } else if let Some(h) = line.strip_prefix("    ") {
            if !h.starts_with(' ') && !line.starts_with("#") {
                cap.notes.push(Note {
                    dir,
                    header: h.to_string(),
                    fields: Vec::new(),
                });
            }
        }
    }
    cap
}

fn req_field(r: &Req, name: &str) -> String {
    let v: u64 = match name {
        "ver_maj" => r.ver_maj.into(),
        "ver_min" => r.ver_min.into(),
        "ver_inc" => r.ver_inc.into(),
        "req_index" => r.req_index.into(),
        "access_recv" => r.access_recv.into(),
        "affinity" => r.affinity.into(),
        "alt_port" => r.alt_port.into(),
        "flip" => r.flip.into(),
        "msg_size" => r.msg_size.into(),
        "mtu_size" => r.mtu_size.into(),
        "no_msgs" => r.no_msgs.into(),
        "poll_mode" => r.poll_mode.into(),
        "port" => r.port.into(),
        "rd_atomic" => r.rd_atomic.into(),
        "sl" => r.sl.into(),
        "sock_buf_size" => r.sock_buf_size.into(),
        "src_path_bits" => r.src_path_bits.into(),
        "time" => r.time.into(),
        "timeout" => r.timeout.into(),
        "use_cm" => r.use_cm.into(),
        "id" => return format!("64 bytes, string '{}'", r.id),
        "static_rate" => return format!("64 bytes, string '{}'", r.static_rate),
        other => panic!("unknown REQ field {other}"),
    };
    v.to_string()
}

fn ticks_field(t: &Ticks, k: &str) -> u64 {
    match k {
        "real" => t.real,
        "user" => t.user,
        "nice" => t.nice,
        "kernel" => t.kernel,
        "idle" => t.idle,
        "iowait" => t.iowait,
        "irq" => t.irq,
        "softirq" => t.softirq,
        "steal" => t.steal,
        other => panic!("unknown tick {other}"),
    }
}

fn counter_field(c: &Counters, k: &str) -> u64 {
    match k {
        "no_bytes" => c.bytes,
        "no_msgs" => c.msgs,
        "no_errs" => c.errs,
        other => panic!("unknown counter {other}"),
    }
}

fn stat_field(s: &Stat, name: &str) -> Option<u64> {
    Some(match name {
        "no_cpus" => s.no_cpus.into(),
        "no_ticks" => s.no_ticks.into(),
        "max_cqes" => s.max_cqes.into(),
        "(padding," => return None,
        _ => {
            if let Some(k) = name.strip_prefix("time_s[") {
                ticks_field(&s.time_s, k.trim_end_matches(']'))
            } else if let Some(k) = name.strip_prefix("time_e[") {
                ticks_field(&s.time_e, k.trim_end_matches(']'))
            } else {
                let (c, k) = name.split_once('.').expect("counter field");
                let c = match c {
                    "s" => &s.s,
                    "r" => &s.r,
                    "rem_s" => &s.rem_s,
                    "rem_r" => &s.rem_r,
                    other => panic!("unknown counters {other}"),
                };
                counter_field(c, k)
            }
        }
    })
}

fn quoted(h: &str) -> &str {
    let a = h.find('\'').expect("quote") + 1;
    let b = h.rfind('\'').expect("quote");
    &h[a..b]
}

/// Decodes one capture; returns how many messages were checked.
fn check_file(name: &str) -> usize {
    let text = std::fs::read_to_string(format!("{DIR}/{name}")).expect("golden file");
    let mut cap = parse(&text);
    let mut pos: HashMap<&str, usize> = HashMap::new();
    let mut checked = 0;
    let mut last_req: Option<Req> = None;
    for note in &cap.notes {
        let buf = cap.inband.entry(note.dir).or_default();
        let at = pos.entry(note.dir).or_default();
        let mut take = |n: usize| {
            let b = buf[*at..*at + n].to_vec();
            *at += n;
            b
        };
        let h = note.header.as_str();
        if h.starts_with("REQ") {
            let b = take(wire::REQ_LEN);
            let req = wire::decode_req(&b).expect("REQ decodes");
            for (f, v) in &note.fields {
                assert_eq!(&req_field(&req, f), v, "{name}: REQ {f}");
            }
            assert_eq!(wire::encode_req(&req), b, "{name}: REQ re-encodes");
            last_req = Some(req);
        } else if h.starts_with("data port") {
            let b = take(wire::PORT_LEN);
            let p = wire::decode_port(&b).unwrap();
            assert_eq!(h.rsplit_once("= ").unwrap().1, p.to_string(), "{name}");
            assert_eq!(wire::encode_port(p).as_slice(), b.as_slice());
        } else if h.starts_with("sync text") {
            let t = quoted(h).as_bytes();
            let b = take(t.len());
            assert_eq!(b, t);
            assert!(t == wire::SYNC_BEFORE || t == wire::SYNC_AFTER, "{name}");
        } else if h.starts_with("STAT") {
            let b = take(wire::STAT_LEN);
            let s = wire::decode_stat(&b).expect("STAT decodes");
            for (f, v) in &note.fields {
                if let Some(x) = stat_field(&s, f) {
                    assert_eq!(&x.to_string(), v, "{name}: STAT {f}");
                }
            }
            assert_eq!(wire::encode_stat(&s), b, "{name}: STAT re-encodes");
        } else if h.starts_with("CONF") {
            let b = take(wire::CONF_LEN);
            let c = wire::decode_conf(&b).expect("CONF decodes");
            let got = [&c.node, &c.cpu, &c.os, &c.qperf];
            for ((f, v), g) in note.fields.iter().zip(got) {
                assert_eq!(
                    quoted(v.split(" (bytes after").next().unwrap()),
                    g,
                    "{name}: {f}"
                );
            }
            // Our encoding zero-fills after the NULs.
            let ours = wire::encode_conf(&c);
            assert_eq!(wire::decode_conf(&ours).unwrap(), c);
        } else if h.starts_with("error text") {
            let t = quoted(h);
            let b = take(t.len());
            assert_eq!(wire::decode_error_text(&b), t, "{name}");
            if let Some(r) = &last_req {
                if let Some(e) = wire::version_error(r.ver_maj, r.ver_min, r.ver_inc) {
                    assert_eq!(e, t, "{name}: version text");
                }
            }
        } else if h.starts_with("1 byte '?'") {
            let (d, b) = cap.urgent.remove(0);
            assert_eq!((d, b), (note.dir, wire::URGENT_ERROR), "{name}");
        } else {
            continue;
        }
        checked += 1;
    }
    checked
}

#[test]
fn every_wire_dump_decodes() {
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("wire_") && n.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for n in &names {
        let k = check_file(n);
        assert!(k >= 2, "{n}: only {k} messages decoded");
        eprintln!("{n}: {k} messages checked");
    }
}
