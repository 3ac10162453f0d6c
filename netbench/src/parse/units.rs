//! Numbers with units as printed by qperf and wrk, back to base units.
//!
//! qperf: decimal scaling (`1.21 MB/sec`, `27.7 us`, `4 KiB (4,096)`) with
//! thousands separators (spec qperf.md §6.3). wrk: `1.96ms`, `26.57k`,
//! `129.19MB` where bytes use 1024 steps and counts 1000 steps (wrk.md §3.4).

/// A qperf number: digits with optional `,` separators, `.` and sign.
pub fn qperf_number(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|c| *c != ',').collect();
    let v: f64 = cleaned.parse().ok()?;
    v.is_finite().then_some(v)
}

/// qperf bandwidth `(value, unit)` to bytes per second (`-ub` bit units too).
pub fn qperf_bandwidth(value: f64, unit: &str) -> Option<f64> {
    const BYTES: &[&str] = &["bytes/sec", "KB/sec", "MB/sec", "GB/sec", "TB/sec"];
    const BITS: &[&str] = &["bits/sec", "Kb/sec", "Mb/sec", "Gb/sec", "Tb/sec"];
    if let Some(i) = BYTES.iter().position(|u| *u == unit) {
        return Some(value * 1000f64.powi(i as i32));
    }
    let i = BITS.iter().position(|u| *u == unit)?;
    Some(value * 1000f64.powi(i as i32) / 8.0)
}

/// qperf time `(value, unit)` to seconds.
pub fn qperf_time(value: f64, unit: &str) -> Option<f64> {
    let scale = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "sec" => 1.0,
        _ => return None,
    };
    Some(value * scale)
}

/// qperf size `(value, unit)` to bytes (the binary form carries its exact
/// byte count in the alternative, which callers prefer).
pub fn qperf_size(value: f64, unit: &str) -> Option<f64> {
    let scale = match unit {
        "bytes" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        _ => return None,
    };
    Some(value * scale)
}

/// Splits `text` into its leading number and the unit suffix after it.
fn split_suffix(text: &str) -> Option<(f64, &str)> {
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-'))
        .map_or(text.len(), |(i, _)| i);
    let v: f64 = text[..end].parse().ok()?;
    Some((v, &text[end..]))
}

/// wrk time cell (`66.87us`, `1.96ms`, `1.50s`, `3.00m`) to seconds.
/// `None` for anything else (wrk prints `-nan%` only in the percent column).
pub fn wrk_time(text: &str) -> Option<f64> {
    let (v, unit) = split_suffix(text)?;
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Some(v * scale)
}

/// wrk metric count (`26.57k`, `62.11`, `1.2M`) to a plain number.
pub fn wrk_metric(text: &str) -> Option<f64> {
    let (v, unit) = split_suffix(text)?;
    let i = ["", "k", "M", "G", "T", "P"]
        .iter()
        .position(|u| *u == unit)?;
    Some(v * 1000f64.powi(i as i32))
}

/// wrk byte amount (`129.19MB`, `684.00B`, `0.00B`) to bytes (1024 steps).
pub fn wrk_bytes(text: &str) -> Option<f64> {
    let (v, unit) = split_suffix(text)?;
    let prefix = unit.strip_suffix('B')?;
    let i = ["", "K", "M", "G", "T", "P"]
        .iter()
        .position(|u| *u == prefix)?;
    Some(v * 1024f64.powi(i as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
    }

    #[test]
    fn qperf_units() {
        assert_eq!(qperf_number("29,766"), Some(29766.0));
        assert_eq!(qperf_number("1,234.5"), Some(1234.5));
        assert_eq!(qperf_number("x"), None);
        assert!(close(qperf_bandwidth(1.21, "MB/sec").unwrap(), 1.21e6));
        assert!(close(qperf_bandwidth(8.0, "Gb/sec").unwrap(), 1e9));
        assert_eq!(qperf_bandwidth(1.0, "MB/s"), None);
        assert!(close(qperf_time(27.7, "us").unwrap(), 27.7e-6));
        assert!(close(qperf_time(90.0, "sec").unwrap(), 90.0));
        assert_eq!(qperf_size(4.0, "KiB"), Some(4096.0));
        assert_eq!(qperf_size(1.0, "bytes"), Some(1.0));
    }

    #[test]
    fn wrk_units() {
        assert!(close(wrk_time("1.96ms").unwrap(), 1.96e-3));
        assert!(close(wrk_time("66.87us").unwrap(), 66.87e-6));
        assert!(close(wrk_time("3.00m").unwrap(), 180.0));
        assert_eq!(wrk_time("-nan%"), None);
        assert!(close(wrk_metric("26.57k").unwrap(), 26570.0));
        assert!(close(wrk_metric("62.11").unwrap(), 62.11));
        assert!(close(wrk_bytes("129.19MB").unwrap(), 129.19 * 1048576.0));
        assert!(close(wrk_bytes("684.00B").unwrap(), 684.0));
        assert_eq!(wrk_bytes("12XB"), None);
        assert_eq!(wrk_bytes(""), None);
    }
}
