//! Option value syntax (spec qperf.md §2.2) with stock's exact error texts.
//!
//! `opt` is always the option word as it was typed (or, inside a `-oo`
//! loop, the option's table spelling), since that is what stock prints.
//! Results are C `long`s; the caller truncates them into 32-bit parameter
//! fields exactly like stock does.

use super::cnum::{strtol, strtold};

/// An `int` argument: `strtol` of the whole word, non-negative.
pub fn int(opt: &str, arg: &str) -> Result<i64, String> {
    let (v, rest) = strtol(arg);
    if !rest.is_empty() {
        return Err(format!("bad argument: {arg}"));
    }
    if v < 0 {
        return Err(format!("{opt} requires a non-negative number"));
    }
    Ok(v)
}

/// The multiplier of a size suffix; suffixes are case-sensitive.
fn size_multiplier(suffix: &str) -> Option<u64> {
    Some(match suffix {
        "" => 1,
        "kb" | "k" => 1000,
        "mb" | "m" => 1000 * 1000,
        "gb" | "g" => 1000 * 1000 * 1000,
        "kib" | "K" => 1024,
        "mib" | "M" => 1024 * 1024,
        "gib" | "G" => 1024 * 1024 * 1024,
        _ => return None,
    })
}

/// A size word (also used for every `-oo` field): number × suffix in long
/// double, truncated; may be negative (callers decide).
pub fn size_of(arg: &str, opt: &str) -> Result<i64, String> {
    let (d, rest) = strtold(arg);
    match size_multiplier(rest) {
        Some(m) => Ok(d.mul_trunc(m)),
        None => Err(format!("{opt}: bad size: {arg}")),
    }
}

/// A `size` argument: [`size_of`], non-negative.
pub fn size(opt: &str, arg: &str) -> Result<i64, String> {
    let v = size_of(arg, opt)?;
    if v < 0 {
        return Err(format!("{opt} requires a non-negative number"));
    }
    Ok(v)
}

/// A `time` argument in whole seconds, with an optional one-letter unit.
pub fn time(opt: &str, arg: &str) -> Result<i64, String> {
    let (d, rest) = strtold(arg);
    // Stock checks the sign before looking at the unit.
    if d.is_negative() {
        return Err(format!("{opt} requires a non-negative number"));
    }
    let mut chars = rest.chars();
    let unit = match (chars.next(), chars.next()) {
        (None, _) => 's',
        (Some(c), None) => c,
        (Some(_), Some(_)) => return Err(format!("bad argument: {arg}")),
    };
    let m = match unit {
        's' | 'S' => 1,
        'm' | 'M' => 60,
        'h' | 'H' => 60 * 60,
        'd' | 'D' => 60 * 60 * 24,
        _ => return Err(format!("bad argument: {arg}")),
    };
    Ok(d.mul_trunc(m))
}

/// A service level: an `int` in 0..=15.
pub fn service_level(opt: &str, arg: &str) -> Result<i64, String> {
    let v = int(opt, arg)?;
    if v > 15 {
        // Stock prints the C long through `%d`: only its low 32 bits.
        return Err(format!(
            "service level must be between 0 and 15: {} given",
            v as i32
        ));
    }
    Ok(v)
}

/// The longest id / static_rate string stock accepts (its field is 64
/// bytes including the terminating NUL).
pub const MAX_STR: usize = 63;

/// An id or static_rate string.
pub fn string(arg: &str) -> Result<String, String> {
    if arg.len() > MAX_STR {
        return Err(format!("{arg}: too long"));
    }
    Ok(arg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(int("-ip", "29766"), Ok(29766));
        assert_eq!(int("-ip", " +5"), Ok(5));
        assert_eq!(int("-ip", ""), Ok(0));
        assert_eq!(int("-ip", "5x"), Err("bad argument: 5x".into()));
        assert_eq!(int("-ip", "5 "), Err("bad argument: 5 ".into()));
        assert_eq!(
            int("-ip", "-5"),
            Err("-ip requires a non-negative number".into())
        );
        assert_eq!(int("-ip", "99999999999999999999"), Ok(i64::MAX));
    }

    #[test]
    fn sizes() {
        let ok = |s: &str| size("-m", s).expect(s);
        assert_eq!(ok("12kb"), 12_000);
        assert_eq!(ok("12mib"), 12 * 1024 * 1024);
        assert_eq!(ok("12K"), 12 * 1024);
        assert_eq!(ok("1.5k"), 1500);
        assert_eq!(ok("0x10"), 16);
        assert_eq!(ok("1e3"), 1000);
        assert_eq!(ok("2.5"), 2);
        assert_eq!(ok("4G"), 4 * 1024 * 1024 * 1024);
        assert_eq!(ok("k"), 0);
        for bad in ["64KiB", "12KB", "12Kib", "5x", "1e", "1 k"] {
            assert_eq!(size("-m", bad), Err(format!("-m: bad size: {bad}")));
        }
        for neg in ["nan", "inf", "-1", "1e30"] {
            assert_eq!(
                size("-m", neg),
                Err("-m requires a non-negative number".into()),
                "{neg}"
            );
        }
        assert_eq!(size_of("-3", "-oo"), Ok(-3));
    }

    #[test]
    fn times() {
        assert_eq!(time("-t", "1.5"), Ok(1));
        assert_eq!(time("-t", "0.5"), Ok(0));
        assert_eq!(time("-t", "2m"), Ok(120));
        assert_eq!(time("-t", "1H"), Ok(3600));
        assert_eq!(time("-t", "1d"), Ok(86400));
        assert_eq!(time("-t", "7S"), Ok(7));
        assert_eq!(time("-t", "nan"), Ok(i64::MIN));
        assert_eq!(time("-t", "5sec"), Err("bad argument: 5sec".into()));
        assert_eq!(time("-t", "5x"), Err("bad argument: 5x".into()));
        assert_eq!(
            time("-t", "-5x"),
            Err("-t requires a non-negative number".into())
        );
    }

    #[test]
    fn service_levels() {
        assert_eq!(service_level("-sl", "15"), Ok(15));
        assert_eq!(
            service_level("-sl", "16"),
            Err("service level must be between 0 and 15: 16 given".into())
        );
        assert_eq!(
            service_level("-sl", "4294967297"),
            Err("service level must be between 0 and 15: 1 given".into())
        );
    }

    #[test]
    fn strings() {
        assert_eq!(string(&"a".repeat(63)), Ok("a".repeat(63)));
        let long = "b".repeat(64);
        assert_eq!(string(&long), Err(format!("{long}: too long")));
    }
}
