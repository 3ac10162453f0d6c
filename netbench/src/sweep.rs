//! The message-size sweep: the `INIT:LAST:INCR` part of
//! `qperf -oo msg_size:INIT:LAST:INCR`.
//!
//! netbench passes the sweep to qperf unchanged, and expands it itself only
//! to know the table rows in advance (so a target that fails still gets one
//! `error:` cell per row). Sizes use qperf's suffixes (qperf.md §2.2:
//! `k`=1000, `K`=1024, ...). The expansion is bounded so a sweep that would
//! make qperf loop forever is rejected before anything runs.

use std::fmt;

/// At most this many sizes (the seed's sweep has 4).
const MAX_STEPS: usize = 64;

/// A validated sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    spec: String,
    sizes: Vec<u64>,
}

impl Sweep {
    /// The seed's sweep `1:256K:*64` = 1, 64, 4096, 262144.
    pub fn seed() -> Sweep {
        Sweep::parse("1:256K:*64").expect("the seed sweep is valid")
    }

    /// Parses `INIT:LAST:INCR` (an optional leading `msg_size:` is allowed);
    /// `*N` multiplies, `N` or `+N` adds.
    pub fn parse(text: &str) -> Result<Sweep, String> {
        let spec = text.strip_prefix("msg_size:").unwrap_or(text);
        let fields: Vec<&str> = spec.split(':').collect();
        let [init, last, incr] = fields.as_slice() else {
            return Err(format!(
                "bad msg-size sweep {text:?}: expected INIT:LAST:INCR like 1:256K:*64"
            ));
        };
        let (mult, incr) = match incr.strip_prefix('*') {
            Some(rest) => (true, rest),
            None => (false, *incr),
        };
        let size = |s: &str| {
            parse_size(s).ok_or_else(|| format!("bad size {s:?} in msg-size sweep {text:?}"))
        };
        let (init, last, incr) = (size(init)?, size(last)?, size(incr)?);
        if incr == 0 || (mult && (incr < 2 || init == 0)) {
            return Err(format!("msg-size sweep {text:?} never ends"));
        }
        let mut sizes = Vec::new();
        let mut v = init;
        while v <= last {
            if sizes.len() == MAX_STEPS {
                return Err(format!(
                    "msg-size sweep {text:?} has more than {MAX_STEPS} sizes"
                ));
            }
            sizes.push(v);
            v = if mult {
                v.saturating_mul(incr)
            } else {
                v.saturating_add(incr)
            };
            if v == u64::MAX {
                break;
            }
        }
        if sizes.is_empty() {
            return Err(format!("msg-size sweep {text:?} is empty (INIT > LAST)"));
        }
        Ok(Sweep {
            spec: spec.to_string(),
            sizes,
        })
    }

    /// The sizes in bytes, in run order.
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    /// The `-oo` argument: `msg_size:INIT:LAST:INCR`.
    pub fn qperf_arg(&self) -> String {
        format!("msg_size:{}", self.spec)
    }
}

impl fmt::Display for Sweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

/// A qperf size: unsigned integer plus optional suffix (subset of qperf's
/// grammar: no decimals, exponents or hex).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..end].parse().ok()?;
    let mult: u64 = match &s[end..] {
        "" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "K" | "kib" => 1 << 10,
        "M" | "mib" => 1 << 20,
        "G" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Row label for a size: `1 B`, `64 B`, `4 KiB`, `256 KiB`, `1.5 KB`-free
/// (non-binary sizes print in bytes).
pub fn size_label(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut unit = None;
    for u in UNITS {
        if v >= 1024 && v.trailing_zeros() >= 10 {
            v /= 1024;
            unit = Some(u);
        } else {
            break;
        }
    }
    match unit {
        Some(u) => format!("{v} {u}"),
        None => format!("{bytes} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sweep() {
        let s = Sweep::seed();
        assert_eq!(s.sizes(), [1, 64, 4096, 262144]);
        assert_eq!(s.qperf_arg(), "msg_size:1:256K:*64");
        let labels: Vec<_> = s.sizes().iter().map(|b| size_label(*b)).collect();
        assert_eq!(labels, ["1 B", "64 B", "4 KiB", "256 KiB"]);
    }

    #[test]
    fn additive_and_errors() {
        assert_eq!(
            Sweep::parse("msg_size:0:3:+1").unwrap().sizes(),
            [0, 1, 2, 3]
        );
        assert_eq!(Sweep::parse("1k:2k:1k").unwrap().sizes(), [1000, 2000]);
        assert!(Sweep::parse("1:10").is_err());
        assert!(Sweep::parse("0:10:*2").is_err());
        assert!(Sweep::parse("1:10:0").is_err());
        assert!(Sweep::parse("1:1000:1").is_err());
        assert!(Sweep::parse("5:1:1").is_err());
        assert!(Sweep::parse("1:64KiB:*2").is_err());
        assert_eq!(size_label(1536), "1536 B");
        assert_eq!(size_label(1 << 20), "1 MiB");
    }
}
