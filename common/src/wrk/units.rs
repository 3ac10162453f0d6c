//! wrk's unit formatter and column padder (wrk.md §3.3–3.4).

use std::cmp::Ordering;

use super::ldouble::Ext;

/// One unit table: scale, base unit and the successive units.
struct Table {
    scale: f64,
    base: &'static str,
    units: &'static [&'static str],
}

const TIME_US: Table = Table {
    scale: 1000.0,
    base: "us",
    units: &["ms", "s"],
};
const TIME_S: Table = Table {
    scale: 60.0,
    base: "s",
    units: &["m", "h"],
};
const METRIC: Table = Table {
    scale: 1000.0,
    base: "",
    units: &["k", "M", "G", "T", "P"],
};
const BINARY: Table = Table {
    scale: 1024.0,
    base: "",
    units: &["K", "M", "G", "T", "P"],
};

/// Formats a float with `decimals` digits; NaN prints as `-nan` like glibc
/// on x86 (0/0 has the sign bit set), infinities as `inf`/`-inf`.
pub fn fixed(v: f64, decimals: usize) -> String {
    if v.is_nan() {
        "-nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        }
    } else {
        format!("{v:.decimals$}")
    }
}

fn format_units(n: f64, t: &Table, decimals: usize) -> String {
    format_units_div(n, 1, t, decimals)
}

/// `format_units(n / pre_div)` with every division done in x87 extended
/// precision like wrk's `long double` code, so decimal ties print as glibc
/// does ([`super::ldouble`]). NaN, infinities and negatives keep the plain
/// `f64` path.
fn format_units_div(n: f64, pre_div: u64, t: &Table, decimals: usize) -> String {
    if n.is_finite() && n >= 0.0 {
        let threshold = 0.85 * t.scale;
        let mut amt = Ext::from_f64(n).div(pre_div);
        let mut unit = t.base;
        // Quirk kept from wrk: the last unit of each table is never reached.
        for u in &t.units[..t.units.len() - 1] {
            if amt.cmp_f64(threshold) == Ordering::Less {
                break;
            }
            amt = amt.div(t.scale as u64);
            unit = u;
        }
        if let Some(s) = amt.fixed(decimals) {
            return format!("{s}{unit}");
        }
    }
    format_units_f64(n / pre_div as f64, t, decimals)
}

fn format_units_f64(n: f64, t: &Table, decimals: usize) -> String {
    let mut amt = n;
    let mut unit = t.base;
    let threshold = 0.85 * t.scale;
    // Quirk kept from wrk: the last unit of each table is never reached.
    for i in 0..t.units.len() - 1 {
        // NaN fails this comparison in C too and stops scaling.
        if amt.is_nan() || amt < threshold {
            break;
        }
        amt /= t.scale;
        unit = t.units[i];
    }
    format!("{}{}", fixed(amt, decimals), unit)
}

/// Metric formatter: `849.99`, `0.85k`, `26.57k`, `1.20M`.
pub fn format_metric(n: f64) -> String {
    format_units(n, &METRIC, 2)
}

/// Binary formatter: `870.00`, `0.85K`, `129.19M` (callers append `B`).
pub fn format_binary(n: f64) -> String {
    format_units(n, &BINARY, 2)
}

/// Time formatter for a µs value: `146.00us`, `1.96ms`, `3.01s`, `3.00m`.
pub fn format_time_us(n: f64) -> String {
    if n >= 1_000_000.0 {
        format_units_div(n, 1_000_000, &TIME_S, 2)
    } else {
        format_units(n, &TIME_US, 2)
    }
}

/// Time formatter for seconds with `decimals` digits (banner uses 0).
pub fn format_time_s(n: f64, decimals: usize) -> String {
    format_units(n, &TIME_S, decimals)
}

/// Right-aligns `s` in a cell of nominal `width` so numbers line up whatever
/// the unit: the cell is `width - pad` wide (truncated like `%*.*s`) followed
/// by `pad` spaces, where `pad` = 2 minus one per trailing letter (max two).
pub fn pad_cell(s: &str, width: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut pad = 2usize;
    if chars.last().is_some_and(|c| c.is_ascii_alphabetic()) {
        pad -= 1;
    }
    if chars.len() >= 2 && chars[chars.len() - 2].is_ascii_alphabetic() {
        pad -= 1;
    }
    let w = width.saturating_sub(pad);
    let shown: String = chars.iter().take(w).collect();
    format!("{shown:>w$}{}", " ".repeat(pad))
}
