//! Run settings: wrk duration/threads/connections, qperf test time and the
//! message-size sweep, layered base → file `[defaults]` → target → flags.
//!
//! Two bases: the seed's runbook (`wrk -t64 -c20000 -d3m`, qperf's own 2 s
//! per test) for real targets from a file or `--seed`, and a short one for
//! the embedded default run so it finishes well under two minutes.

use serde::Serialize;

use crate::sweep::Sweep;

/// Effective settings for one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// `wrk -d` as typed (`3m`, `5s`).
    pub duration: String,
    /// `wrk -t`.
    pub threads: u32,
    /// `wrk -c`.
    pub connections: u32,
    /// `qperf -t`; `None` leaves qperf's default (2 s per test).
    pub qperf_time: Option<String>,
    /// `-oo msg_size:...`.
    #[serde(serialize_with = "ser_sweep")]
    pub sweep: Sweep,
}

fn ser_sweep<S: serde::Serializer>(s: &Sweep, ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_str(s)
}

impl Settings {
    /// The seed's commands: `-t64 -c20000 -d3m`, qperf default time.
    pub fn seed() -> Settings {
        Settings {
            duration: "3m".into(),
            threads: 64,
            connections: 20000,
            qperf_time: None,
            sweep: Sweep::seed(),
        }
    }

    /// Short defaults for the embedded run on this machine.
    pub fn short() -> Settings {
        Settings {
            duration: "5s".into(),
            threads: 2,
            connections: 64,
            qperf_time: Some("1".into()),
            sweep: Sweep::seed(),
        }
    }

    /// Applies the overrides that are set.
    pub fn with(mut self, o: &Overrides) -> Settings {
        if let Some(d) = &o.duration {
            self.duration = d.clone();
        }
        if let Some(t) = o.threads {
            self.threads = t;
        }
        if let Some(c) = o.connections {
            self.connections = c;
        }
        if let Some(t) = &o.qperf_time {
            self.qperf_time = Some(t.clone());
        }
        if let Some(s) = &o.sweep {
            self.sweep = s.clone();
        }
        self
    }

    /// wrk duration in seconds (validated input, so never fails in practice).
    pub fn duration_secs(&self) -> f64 {
        parse_duration(&self.duration).unwrap_or(180.0)
    }

    /// qperf time per test in seconds (qperf's default is 2).
    pub fn qperf_secs(&self) -> f64 {
        self.qperf_time
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(2.0)
    }
}

/// Optional settings from a file section or the command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `wrk -d`.
    pub duration: Option<String>,
    /// `wrk -t`.
    pub threads: Option<u32>,
    /// `wrk -c`.
    pub connections: Option<u32>,
    /// `qperf -t`.
    pub qperf_time: Option<String>,
    /// Message-size sweep.
    pub sweep: Option<Sweep>,
}

/// A duration as wrk and qperf take it: a number with an optional `s`, `m`,
/// `h` (or `d`) suffix; seconds when bare. `None` when malformed or zero.
pub fn parse_duration(text: &str) -> Option<f64> {
    let (num, mult) = match text.char_indices().last()? {
        (i, 's' | 'S') => (&text[..i], 1.0),
        (i, 'm' | 'M') => (&text[..i], 60.0),
        (i, 'h' | 'H') => (&text[..i], 3600.0),
        (i, 'd' | 'D') => (&text[..i], 86400.0),
        _ => (text, 1.0),
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    (v > 0.0 && v.is_finite()).then_some(v * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3m"), Some(180.0));
        assert_eq!(parse_duration("5s"), Some(5.0));
        assert_eq!(parse_duration("2"), Some(2.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        for bad in ["", "m", "0", "-1s", "5x", "5sec", "1e3"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn layering() {
        let o = Overrides {
            threads: Some(4),
            qperf_time: Some("3".into()),
            ..Overrides::default()
        };
        let s = Settings::seed().with(&o);
        assert_eq!(
            (s.threads, s.connections, s.duration.as_str()),
            (4, 20000, "3m")
        );
        assert_eq!(s.qperf_secs(), 3.0);
        assert_eq!(Settings::seed().qperf_secs(), 2.0);
    }
}
