//! Output-shape comparison of two qperf outputs: same blocks, same lines in
//! the same order, same unit families, `=` aligned, parameter values equal,
//! measured values within a broad factor (the test machine is shared).

/// One parsed entry line: (name, value, unit).
type Entry = (String, String, Option<String>);

fn parse(out: &str) -> Vec<Result<Entry, String>> {
    out.lines()
        .map(|l| {
            let Some((name, rest)) = l.strip_prefix("    ").and_then(|b| b.split_once("  =  "))
            else {
                return Err(l.to_string());
            };
            let rest = rest.trim_start();
            let rest = rest.split_once(" (").map_or(rest, |x| x.0);
            let (v, u) = match rest.split_once(' ') {
                Some((v, u)) => (v.to_string(), Some(u.to_string())),
                None => (rest.to_string(), None),
            };
            Ok((name.trim_end().to_string(), v, u))
        })
        .collect()
}

/// Lines stock shows or hides depending on the run (zero values are hidden).
fn optional(name: &str) -> bool {
    (name.contains("cpus_") && !name.ends_with("cpus_used")) || name.contains("errors")
}

/// Unit family and multiplier.
fn unit(u: &str) -> (&'static str, f64) {
    let (base, m) = match u.chars().next() {
        Some('K') => (&u[1..], 1e3),
        Some('M') => (&u[1..], 1e6),
        Some('G') => (&u[1..], 1e9),
        Some('T') => (&u[1..], 1e12),
        _ => (u, 1.0),
    };
    match (base, u) {
        (_, "ns") => ("time", 1.0),
        (_, "us") => ("time", 1e3),
        (_, "ms") => ("time", 1e6),
        (_, "sec") => ("time", 1e9),
        (_, "ns/GB") => ("cost", 1.0),
        (_, "us/GB") => ("cost", 1e3),
        (_, "ms/GB") => ("cost", 1e6),
        (_, "sec/GB") => ("cost", 1e9),
        (_, "") => ("count", 1.0),
        (_, "thousand") => ("count", 1e3),
        (_, "million") => ("count", 1e6),
        (_, "billion") => ("count", 1e9),
        (_, "% cpus") => ("cpus", 1.0),
        (_, "bytes") => ("size", 1.0),
        (_, "bytes/sec") => ("bw", 1.0),
        (_, "bits/sec") => ("bits", 1.0),
        ("B/sec", _) => ("bw", m),
        ("b/sec", _) => ("bits", m),
        ("/sec", _) => ("rate", m),
        ("B", _) => ("size", m),
        ("iB", _) => ("size", m * 1.024),
        _ => ("?", 1.0),
    }
}

/// `=` signs aligned within each block.
fn check_layout(out: &str) {
    let mut eq: Option<usize> = None;
    for l in out.lines() {
        if l.starts_with("    ") && l.contains("  =  ") {
            let at = l.find("  =  ");
            assert_eq!(
                *eq.get_or_insert(at.unwrap_or(0)),
                at.unwrap_or(0),
                "misaligned {l:?}\n{out}"
            );
        } else {
            eq = None;
        }
    }
}

/// Asserts that `ours` has the shape of `stock`.
pub fn same_shape(stock: &str, ours: &str, what: &str) {
    check_layout(ours);
    let keep = |r: &Result<Entry, String>| !matches!(r, Ok((n, _, _)) if optional(n));
    let s: Vec<_> = parse(stock).into_iter().filter(keep).collect();
    let o: Vec<_> = parse(ours).into_iter().filter(keep).collect();
    let names = |v: &[Result<Entry, String>]| -> Vec<String> {
        v.iter()
            .map(|r| match r {
                Ok((n, _, _)) => n.clone(),
                Err(l) => l.clone(),
            })
            .collect()
    };
    assert_eq!(
        names(&o),
        names(&s),
        "{what}\nstock:\n{stock}\nours:\n{ours}"
    );
    for (a, b) in s.iter().zip(&o) {
        let (Ok((name, sv, su)), Ok((_, ov, ou))) = (a, b) else {
            continue;
        };
        let param = ["msg_size", "port", "time", "timeout"].contains(&name.as_str());
        let text = ["_node", "_cpu", "_os", "_qperf"]
            .iter()
            .any(|t| name.ends_with(t));
        if text {
            // conf strings: no unit; both sides are this host.  Per-core
            // frequency scaling can turn the CPU into "Mixed CPUs" per read.
            let mixed = |u: &Option<String>| u.as_deref().is_some_and(|u| u.contains("Mixed"));
            if !(name.ends_with("_cpu") && (mixed(su) || mixed(ou))) {
                assert_eq!((sv, su), (ov, ou), "{what}: {name}");
            }
            continue;
        }
        if param || su.is_none() {
            assert_eq!((sv, su), (ov, ou), "{what}: {name}");
            continue;
        }
        let ((sf, sm), (of, om)) = (
            unit(su.as_deref().unwrap_or("")),
            unit(ou.as_deref().unwrap_or("")),
        );
        assert_eq!(sf, of, "{what}: {name}: {su:?} vs {ou:?}");
        assert_ne!(sf, "?", "{what}: {name}: unknown unit {su:?}");
        let num = |v: &str| v.replace(',', "").parse::<f64>().ok();
        let (Some(x), Some(y)) = (num(sv), num(ov)) else {
            panic!("{what}: {name}: {sv} / {ov}");
        };
        let (x, y) = (x * sm, y * om);
        if x != 0.0 && y != 0.0 {
            assert!(
                (1e-3..1e3).contains(&(y / x)),
                "{what}: {name}: stock {sv} ours {ov}"
            );
        }
    }
}

#[test]
fn shape_accepts_scaled_units() {
    same_shape(
        "tcp_bw:\n    bw  =  2.58 GB/sec\n",
        "tcp_bw:\n    bw  =  586 MB/sec\n",
        "t",
    );
}
