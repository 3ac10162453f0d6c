//! Golden walk: parse every numeric field of the stock outputs back into a
//! value, re-render it through `common`, and compare byte for byte.

use std::fs;
use std::path::{Path, PathBuf};

use common::qperf::{render_lines, Line, Units, Value};
use common::wrk::units::{format_binary, format_metric, format_time_us, pad_cell};

fn golden(sub: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../compat/golden")).join(sub)
}

/// Unit → (constructor kind, factor to the constructor's input unit).
fn unit_kind(unit: &str) -> Option<(&'static str, f64)> {
    let k = match unit {
        "bytes/sec" => ("bw", 1.0),
        "KB/sec" => ("bw", 1e3),
        "MB/sec" => ("bw", 1e6),
        "GB/sec" => ("bw", 1e9),
        "TB/sec" => ("bw", 1e12),
        "bits/sec" => ("bw", 1.0 / 8.0),
        "Kb/sec" => ("bw", 1e3 / 8.0),
        "Mb/sec" => ("bw", 1e6 / 8.0),
        "Gb/sec" => ("bw", 1e9 / 8.0),
        "Tb/sec" => ("bw", 1e12 / 8.0),
        "/sec" => ("rate", 1.0),
        "K/sec" => ("rate", 1e3),
        "M/sec" => ("rate", 1e6),
        "G/sec" => ("rate", 1e9),
        "ns" => ("time", 1e-9),
        "us" => ("time", 1e-6),
        "ms" => ("time", 1e-3),
        "sec" => ("time", 1.0),
        "ns/GB" => ("cost", 1e-9),
        "us/GB" => ("cost", 1e-6),
        "ms/GB" => ("cost", 1e-3),
        "sec/GB" => ("cost", 1.0),
        "% cpus" => ("cpus", 0.01),
        "" => ("count", 1.0),
        "thousand" => ("count", 1e3),
        "million" => ("count", 1e6),
        "billion" => ("count", 1e9),
        "trillion" => ("count", 1e12),
        "bytes" => ("size", 1.0),
        "KB" => ("size", 1e3),
        "MB" => ("size", 1e6),
        "GB" => ("size", 1e9),
        "TB" => ("size", 1e12),
        "KiB" | "MiB" | "GiB" | "TiB" => ("binsize", 1.0),
        _ => return None,
    };
    Some(k)
}

/// Parses one `    name  =  value unit (alt)` line and rebuilds it.
fn rebuild_entry(line: &str, units: &Units) -> Option<Line> {
    let body = line.strip_prefix("    ")?;
    let (name, rest) = body.split_once("  =  ")?;
    let name = name.trim_end();
    let rest = rest.trim_start();
    let (text, unit_alt) = match rest.split_once(' ') {
        Some((t, u)) => (t, Some(u)),
        None => (rest, None),
    };
    let number: Option<f64> = text.replace(',', "").parse().ok();
    let (unit, alt) = match unit_alt {
        Some(u) => match u.split_once(" (") {
            Some((u, a)) => (u, a.strip_suffix(')')),
            None => (u, None),
        },
        None => ("", None),
    };
    let kind = match (number, unit_alt) {
        (Some(_), Some(_)) => unit_kind(unit),
        _ => None,
    };
    let value = match (kind, number) {
        (Some((k, f)), Some(n)) => {
            let x = n * f;
            match k {
                "bw" => units.bandwidth(x),
                "rate" => units.rate(x),
                "time" => units.time(x),
                "cost" => units.cost(x),
                "cpus" => units.percent_cpus(x),
                "count" => units.count(x),
                "size" => units.size(x),
                "binsize" => {
                    let v: f64 = alt?.replace(',', "").parse().ok()?;
                    units.size(v)
                }
                _ => return None,
            }
        }
        _ => Value::string(rest),
    };
    Some(Line::new(name, value))
}

fn units_for(file: &str) -> Units {
    Units {
        precision: if file.contains("_e6") { 6 } else { 3 },
        unify_units: file.contains("uu"),
        bits_per_sec: file.contains("_ub"),
    }
}

/// Rebuilds a whole qperf output: entry lines re-rendered per block,
/// everything else copied.
fn rebuild_qperf(text: &str, units: &Units) -> (String, usize) {
    let mut out = Vec::new();
    let mut block: Vec<Line> = Vec::new();
    let mut entries = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        if let Some(e) = rebuild_entry(bare, units) {
            block.push(e);
            entries += 1;
            continue;
        }
        render_lines(&mut out, &block).unwrap();
        block.clear();
        out.extend_from_slice(line.as_bytes());
    }
    render_lines(&mut out, &block).unwrap();
    (String::from_utf8(out).unwrap(), entries)
}

#[test]
fn qperf_golden_files_rebuild_byte_for_byte() {
    let mut files = 0;
    let mut total_entries = 0;
    for entry in fs::read_dir(golden("qperf")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".txt") || name.starts_with("wire_") || name.contains("stderr") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let (rebuilt, n) = rebuild_qperf(&text, &units_for(&name));
        assert_eq!(rebuilt, text, "{name}");
        files += 1;
        total_entries += n;
    }
    assert!(files >= 20, "only {files} files");
    assert!(total_entries >= 200, "only {total_entries} entries");
}

/// Parses a wrk value cell like `1.96ms`, `26.57k`, `129.19MB` into its
/// number and suffix.
fn split_num(s: &str) -> (f64, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    (s[..end].parse().unwrap_or(f64::NAN), &s[end..])
}

fn time_us(s: &str) -> f64 {
    let (n, u) = split_num(s);
    match u {
        "us" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        "m" => n * 60e6,
        _ => panic!("time unit {u:?}"),
    }
}

fn metric(s: &str) -> f64 {
    let (n, u) = split_num(s);
    n * match u {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => panic!("metric unit {u:?}"),
    }
}

fn binary(s: &str) -> f64 {
    let (n, u) = split_num(s);
    n * match u {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024f64.powi(4),
        _ => panic!("binary unit {u:?}"),
    }
}

fn cells(rest: &str) -> Vec<&str> {
    rest.split_whitespace().collect()
}

fn pct(s: &str) -> String {
    let v = s.trim_end_matches('%');
    if v == "-nan" {
        "    -nan%".into()
    } else {
        format!("{:>8.2}%", v.parse::<f64>().unwrap())
    }
}

/// Re-renders one wrk report line from its parsed numbers, or None when the
/// line is not one the formatter produces.
fn rebuild_wrk_line(line: &str) -> Option<String> {
    let fmt_or_nan = |f: fn(f64) -> String, parse: fn(&str) -> f64, s: &str| {
        if s == "-nan" {
            "-nan".to_string()
        } else {
            f(parse(s))
        }
    };
    if let Some(rest) = line.strip_prefix("    Latency   ") {
        let c = cells(rest);
        if c.len() != 4 {
            return None;
        }
        return Some(format!(
            "    Latency   {}{}{}{}",
            pad_cell(&fmt_or_nan(format_time_us, time_us, c[0]), 8),
            pad_cell(&fmt_or_nan(format_time_us, time_us, c[1]), 10),
            pad_cell(&fmt_or_nan(format_time_us, time_us, c[2]), 9),
            pct(c[3])
        ));
    }
    if let Some(rest) = line.strip_prefix("    Req/Sec   ") {
        let c = cells(rest);
        return Some(format!(
            "    Req/Sec   {}{}{}{}",
            pad_cell(&fmt_or_nan(format_metric, metric, c[0]), 8),
            pad_cell(&fmt_or_nan(format_metric, metric, c[1]), 10),
            pad_cell(&fmt_or_nan(format_metric, metric, c[2]), 9),
            pct(c[3])
        ));
    }
    if let Some(rest) = line.strip_prefix("Requests/sec: ") {
        let v: f64 = rest.trim().parse().ok()?;
        return Some(format!("Requests/sec: {v:>9.2}"));
    }
    if let Some(rest) = line.strip_prefix("Transfer/sec: ") {
        let v = binary(rest.trim().strip_suffix('B')?);
        return Some(format!("Transfer/sec: {:>10}B", format_binary(v)));
    }
    if line.starts_with("  ") && line.contains(" requests in ") {
        let (n, rest) = line.trim_start().split_once(" requests in ")?;
        let (t, b) = rest.split_once(", ")?;
        let b = b.strip_suffix("B read")?;
        return Some(format!(
            "  {n} requests in {}, {}B read",
            format_time_us(time_us(t)),
            format_binary(binary(b))
        ));
    }
    let t = line.trim_start();
    if let Some((p, v)) = t.split_once("%") {
        let v = v.trim();
        if let (Ok(p), true) = (p.parse::<f64>(), !v.is_empty()) {
            let (_, u) = split_num(v);
            if ["us", "ms", "s", "m"].contains(&u) {
                let digits = p_decimals(t);
                let cell = pad_cell(&format_time_us(time_us(v)), 10);
                return Some(if digits == 0 {
                    format!("{p:>7.0}%{cell}")
                } else {
                    format!("{p:>7.3}%{cell}")
                });
            }
        }
    }
    None
}

fn p_decimals(t: &str) -> usize {
    let p = t.split('%').next().unwrap_or("");
    p.split_once('.').map_or(0, |(_, d)| d.len())
}

#[test]
fn wrk_golden_report_lines_rebuild_byte_for_byte() {
    let mut checked = 0;
    let mut files = 0;
    for entry in fs::read_dir(golden("wrk")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".stdout") {
            continue;
        }
        files += 1;
        let text = fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rebuilt) = rebuild_wrk_line(line) {
                assert_eq!(rebuilt, line, "{name}");
                checked += 1;
            }
        }
    }
    assert!(files >= 30, "{files}");
    assert!(checked >= 200, "only {checked} lines checked");
}
