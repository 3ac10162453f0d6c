//! wrk's number and time arguments: C `sscanf(s, "%lu%2s")` plus a unit
//! table (spec §1.3). `1k` = 1000 connections, `2m` = 120 s, `10x` fails.

/// `%lu`: optional leading whitespace and sign, decimal digits (saturating
/// like `strtoul`, a minus sign wraps), then `%2s`: up to two non-blank
/// characters after optional whitespace. Returns (number, suffix).
fn scan(s: &str) -> Option<(u64, String)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut n: u64 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        match n
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b[i] - b'0')))
        {
            Some(v) => n = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    if overflow {
        n = u64::MAX;
    } else if negative {
        n = n.wrapping_neg();
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let suffix: String = s[i..]
        .chars()
        .take_while(|c| !c.is_ascii_whitespace())
        .take(2)
        .collect();
    Some((n, suffix))
}

/// Applies a unit table: the suffix equal to `base` (case-insensitive) is ×1,
/// else each unit multiplies by `scale` once more; unknown suffix → None.
fn scan_units(s: &str, scale: u64, base: &str, units: &[&str]) -> Option<u64> {
    let (n, suffix) = scan(s)?;
    if suffix.is_empty() || suffix.eq_ignore_ascii_case(base) {
        return Some(n);
    }
    let mut mult: u64 = 1;
    for u in units {
        mult = mult.wrapping_mul(scale);
        if suffix.eq_ignore_ascii_case(u) {
            return Some(n.wrapping_mul(mult));
        }
    }
    None
}

/// `-c`, `-t`, `-R`: metric suffixes k, M, G, T, P (case-insensitive).
pub fn scan_metric(s: &str) -> Option<u64> {
    scan_units(s, 1000, "", &["k", "M", "G", "T", "P"])
}

/// `-d`, `--timeout`: seconds, with `s`, `m`, `h` (case-insensitive).
pub fn scan_time(s: &str) -> Option<u64> {
    scan_units(s, 60, "s", &["m", "h"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric() {
        assert_eq!(scan_metric("100"), Some(100));
        assert_eq!(scan_metric("1k"), Some(1000));
        assert_eq!(scan_metric("2K"), Some(2000));
        assert_eq!(scan_metric("1m"), Some(1_000_000));
        assert_eq!(scan_metric("3G"), Some(3_000_000_000));
        assert_eq!(scan_metric("1P"), Some(1_000_000_000_000_000));
        assert_eq!(scan_metric(" 7 k"), Some(7000));
        assert_eq!(scan_metric("1kxyz"), None); // suffix "kx"
        assert_eq!(scan_metric("10x"), None);
        assert_eq!(scan_metric("x"), None);
        assert_eq!(scan_metric(""), None);
        assert_eq!(scan_metric("-1"), Some(u64::MAX));
        assert_eq!(scan_metric("99999999999999999999999"), Some(u64::MAX));
    }

    #[test]
    fn time() {
        assert_eq!(scan_time("3"), Some(3));
        assert_eq!(scan_time("3s"), Some(3));
        assert_eq!(scan_time("1S"), Some(1));
        assert_eq!(scan_time("1 s"), Some(1));
        assert_eq!(scan_time("1M"), Some(60));
        assert_eq!(scan_time("2h"), Some(7200));
        assert_eq!(scan_time("500ms"), None);
        assert_eq!(scan_time("1.5s"), None);
        assert_eq!(scan_time("10sec"), None);
        assert_eq!(scan_time("1d"), None);
    }
}
