//! qperf 0.4.11 output formatting (qperf.md §6.2–6.3, §6.6–6.7).
//!
//! A [`Value`] is one already-formatted entry (text, optional unit, optional
//! alternative such as the `(65,536)` of a binary size). [`Units`] holds the
//! formatting settings (`-e`, `-uu`, `-ub`) and builds values of each kind;
//! [`render_block`] prints a test's aligned result block.

use std::io::{self, Write};

mod number;
pub use number::{format_number, group_thousands};

/// Formatting settings from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Units {
    /// Significant digits (`-e`, default 3).
    pub precision: usize,
    /// `-uu`: raw values in the first unit, no commas, no binary sizes.
    pub unify_units: bool,
    /// `-ub`: bandwidth in bits per second.
    pub bits_per_sec: bool,
}

impl Default for Units {
    fn default() -> Units {
        Units {
            precision: 3,
            unify_units: false,
            bits_per_sec: false,
        }
    }
}

const BANDWIDTH: &[&str] = &["bytes/sec", "KB/sec", "MB/sec", "GB/sec", "TB/sec"];
const BANDWIDTH_BITS: &[&str] = &["bits/sec", "Kb/sec", "Mb/sec", "Gb/sec", "Tb/sec"];
const RATE: &[&str] = &["/sec", "K/sec", "M/sec", "G/sec", "T/sec"];
const TIME: &[&str] = &["ns", "us", "ms", "sec"];
const COST: &[&str] = &["ns/GB", "us/GB", "ms/GB", "sec/GB"];
const COUNT: &[&str] = &["", "thousand", "million", "billion", "trillion"];
const SIZE: &[&str] = &["bytes", "KB", "MB", "GB", "TB"];
const BINARY: &[&str] = &["KiB", "MiB", "GiB", "TiB"];

/// One formatted entry of a result block.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The number (or string) as printed, e.g. `4.68`, `71,426`, `vm`.
    pub text: String,
    /// `Some("")` for plain counts (line ends with a space); `None` for
    /// strings, which are not right-aligned.
    pub unit: Option<String>,
    /// Printed as ` (alt)` after the unit, e.g. `65,536`.
    pub alt: Option<String>,
}

impl Value {
    /// Bandwidth in bytes/sec with default [`Units`].
    pub fn bandwidth(bytes_per_sec: f64) -> Value {
        Units::default().bandwidth(bytes_per_sec)
    }
    /// Latency in seconds with default [`Units`] (`Units::time`).
    pub fn latency(secs: f64) -> Value {
        Units::default().time(secs)
    }
    /// Size in bytes with default [`Units`].
    pub fn size(bytes: f64) -> Value {
        Units::default().size(bytes)
    }
    /// A string entry (conf lines, `id`): no unit, not aligned.
    pub fn string(s: impl Into<String>) -> Value {
        Value {
            text: s.into(),
            unit: None,
            alt: None,
        }
    }
}

impl Units {
    /// Formats `v` scaled through `units` by `step` (first unit only with -uu).
    fn scaled(&self, v: f64, units: &[&str], step: f64) -> Value {
        let mut v = v;
        let mut i = 0;
        if !self.unify_units {
            while v >= step && i + 1 < units.len() {
                v /= step;
                i += 1;
            }
        }
        self.plain(v, units[i])
    }

    /// Formats `v` in `unit` without scaling.
    fn plain(&self, v: f64, unit: &str) -> Value {
        let mut text = format_number(v, self.precision);
        if !self.unify_units {
            text = group_thousands(&text);
        }
        Value {
            text,
            unit: Some(unit.to_string()),
            alt: None,
        }
    }

    /// Bandwidth: `4.68 GB/sec`, or bits with `-ub`: `37.4 Gb/sec`.
    pub fn bandwidth(&self, bytes_per_sec: f64) -> Value {
        if self.bits_per_sec {
            self.scaled(bytes_per_sec * 8.0, BANDWIDTH_BITS, 1000.0)
        } else {
            self.scaled(bytes_per_sec, BANDWIDTH, 1000.0)
        }
    }

    /// Message rate: `71.4 K/sec`.
    pub fn rate(&self, per_sec: f64) -> Value {
        self.scaled(per_sec, RATE, 1000.0)
    }

    /// Time given in seconds: `23.8 us`, `1 sec` (never beyond `sec`).
    pub fn time(&self, secs: f64) -> Value {
        self.scaled(secs * 1e9, TIME, 1000.0)
    }

    /// Latency: same as [`Units::time`].
    pub fn latency(&self, secs: f64) -> Value {
        self.time(secs)
    }

    /// CPU cost in CPU-seconds per GB: `271 ms/GB`.
    pub fn cost(&self, secs_per_gb: f64) -> Value {
        self.scaled(secs_per_gb * 1e9, COST, 1000.0)
    }

    /// CPU use, given as a fraction of one CPU: `127 % cpus`.
    pub fn percent_cpus(&self, fraction: f64) -> Value {
        self.plain(fraction * 100.0, "% cpus")
    }

    /// Count: `71,426 ` below a million, else `5.15 million`.
    pub fn count(&self, n: f64) -> Value {
        if n >= 1_000_000.0 {
            self.scaled(n, COUNT, 1000.0)
        } else {
            self.plain(n, "")
        }
    }

    /// Size in bytes: binary form `64 KiB (65,536)` when an exact multiple
    /// of a binary unit, else decimal `1.54 KB`.
    pub fn size(&self, bytes: f64) -> Value {
        if !self.unify_units {
            if let Some(v) = self.binary_size(bytes) {
                return v;
            }
        }
        self.scaled(bytes, SIZE, 1000.0)
    }

    fn binary_size(&self, bytes: f64) -> Option<Value> {
        if !(1024.0..1.8e19).contains(&bytes) || bytes.fract() != 0.0 {
            return None;
        }
        let v = bytes as u64;
        if v & 1023 != 0 {
            return None;
        }
        let mut q = v / 1024;
        let mut i = 0;
        while q >= 1024 && i + 1 < BINARY.len() {
            if q & 1023 != 0 {
                return None;
            }
            q /= 1024;
            i += 1;
        }
        let mut val = self.plain(q as f64, BINARY[i]);
        val.alt = Some(group_thousands(&v.to_string()));
        Some(val)
    }
}

/// One line of a result block.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Full displayed name including any `loc_`/`rem_` prefix.
    pub name: String,
    pub value: Value,
}

impl Line {
    pub fn new(name: impl Into<String>, value: Value) -> Line {
        Line {
            name: name.into(),
            value,
        }
    }
}

/// Prints the `TEST:` header line.
pub fn render_header<W: Write>(w: &mut W, test_name: &str) -> io::Result<()> {
    writeln!(w, "{test_name}:")
}

/// Prints the aligned `    name  =  value unit` lines (§6.2).
pub fn render_lines<W: Write>(w: &mut W, lines: &[Line]) -> io::Result<()> {
    let name_w = lines
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0);
    let data_w = lines
        .iter()
        .filter(|l| l.value.unit.is_some())
        .map(|l| l.value.text.chars().count())
        .max()
        .unwrap_or(0);
    for l in lines {
        let v = &l.value;
        write!(w, "    {:<name_w$}  =  ", l.name)?;
        match &v.unit {
            Some(unit) => write!(w, "{:>data_w$} {unit}", v.text)?,
            None => write!(w, "{}", v.text)?,
        }
        if let Some(alt) = &v.alt {
            write!(w, " ({alt})")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Prints the header then the block: the whole result of one test.
pub fn render_block<W: Write>(w: &mut W, test_name: &str, lines: &[Line]) -> io::Result<()> {
    render_header(w, test_name)?;
    render_lines(w, lines)
}
