//! The `-oo VAR:INIT:LAST:INCR` loop option (spec qperf.md §2.5), with
//! stock's parsing quirks: empty fields mean "not given", and when the word
//! runs out of colons its last field is re-used for the remaining ones.

use super::options::find_loop_var;
use super::value::size_of;

/// One parsed loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loop {
    /// Index of the loop variable's option in the option table.
    pub option: usize,
    pub init: i64,
    pub last: i64,
    pub incr: i64,
    /// `*INCR`: multiply instead of add.
    pub mult: bool,
}

impl Loop {
    /// The values the loop runs through.  Like stock's `long` arithmetic
    /// they wrap on overflow (a negative value is then refused by the
    /// option, ending the run with its error); a zero increment repeats
    /// forever, as in stock.
    pub fn values(&self) -> impl Iterator<Item = i64> + '_ {
        let mut next = self.init;
        std::iter::from_fn(move || {
            let v = Some(next).filter(|v| *v <= self.last)?;
            next = if self.mult {
                v.wrapping_mul(self.incr)
            } else {
                v.wrapping_add(self.incr)
            };
            Some(v)
        })
    }
}

/// Splits the loop word into its four fields.
fn fields(word: &str) -> [Option<&str>; 4] {
    let mut out = [None; 4];
    let mut rest = word;
    for f in &mut out {
        let field = match rest.find(':') {
            Some(i) => {
                let a = &rest[..i];
                rest = &rest[i + 1..];
                a
            }
            // No more colons: this field is returned again next time.
            None => rest,
        };
        *f = (!field.is_empty()).then_some(field);
    }
    out
}

/// Parses the loop word; `opt` is the option as typed (`-oo` or `--loop`).
pub fn parse(opt: &str, word: &str) -> Result<Loop, String> {
    let [name, init, last, incr] = fields(word);
    let name = name.unwrap_or("msg_size");
    let option = find_loop_var(name).ok_or_else(|| format!("{opt}: {name}: no such variable"))?;
    let (mut incr_v, mut mult) = (0, false);
    if let Some(incr) = incr {
        let incr = match incr.strip_prefix('*') {
            Some(rest) => {
                mult = true;
                rest
            }
            None => incr,
        };
        incr_v = size_of(incr, opt)?;
        if incr_v < 1 {
            return Err(format!("{opt}: {incr}: increment must be positive"));
        }
    }
    let init = match init {
        Some(s) => size_of(s, opt)?,
        None => i64::from(mult),
    };
    let last = last.ok_or_else(|| format!("{opt}: must specify limit"))?;
    let last = size_of(last, opt)?;
    Ok(Loop {
        option,
        init,
        last,
        incr: incr_v,
        mult,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::options::OPTIONS;

    fn vals(word: &str) -> Vec<i64> {
        parse("-oo", word).unwrap().values().take(20).collect()
    }

    #[test]
    fn quirks() {
        assert_eq!(vals("msg_size:1:256K:*64"), vec![1, 64, 4096, 262144]);
        assert_eq!(vals("msg_size:1:10"), vec![1]);
        assert_eq!(vals("::2"), vec![0, 2]);
        assert_eq!(vals("msg_size::3:+1"), vec![0, 1, 2, 3]);
        assert_eq!(vals("msg_size:1:5:"), vec![1; 20]);
        let l = parse("-oo", "time:1:2:1").unwrap();
        assert_eq!(OPTIONS[l.option].name, "--time");
    }

    #[test]
    fn errors() {
        let e = |w: &str| parse("-oo", w).unwrap_err();
        assert_eq!(e("msg_size"), "-oo: bad size: msg_size");
        assert_eq!(e("nope:1:2:3"), "-oo: nope: no such variable");
        assert_eq!(e("msg_size:1::"), "-oo: must specify limit");
        assert_eq!(e("msg_size:1:5:*0"), "-oo: 0: increment must be positive");
        assert_eq!(e("msg_size:1:5:-1"), "-oo: -1: increment must be positive");
        assert_eq!(e("msg_size:1:5:2x"), "-oo: bad size: 2x");
        assert_eq!(
            parse("--loop", "x:1:2:1").unwrap_err(),
            "--loop: x: no such variable"
        );
    }

    #[test]
    fn overflow_wraps_like_stock() {
        let l = parse("-oo", &format!("msg_size:1:{}:*2", i64::MAX)).unwrap();
        let v: Vec<i64> = l.values().take(65).collect();
        assert_eq!(v[62], 1 << 62);
        assert_eq!(v[63], i64::MIN);
        let l = parse("-oo", &format!("msg_size:{}:{}:+1", i64::MAX, i64::MAX)).unwrap();
        assert_eq!(
            l.values().take(3).collect::<Vec<_>>(),
            [i64::MAX, i64::MIN, i64::MIN + 1]
        );
    }
}
