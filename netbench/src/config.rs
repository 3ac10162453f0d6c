//! The targets file (TOML): which machines to measure and how.
//!
//! ```toml
//! [defaults]            # optional, applies to every target
//! duration = "3m"       # wrk -d
//! threads = 64          # wrk -t
//! connections = 20000   # wrk -c
//! qperf_time = "2"      # qperf -t (omit: qperf's default)
//! msg_sizes = "1:256K:*64"
//!
//! [[target]]
//! name = "host"
//! qperf_host = "10.0.0.1"
//! lp = 4000             # optional qperf -lp / -ip
//! ip = 4001
//! wrk_url = "http://10.0.0.1:8080/"
//! threads = 8           # any [defaults] key can be set per target
//! ```
//!
//! Errors name the line and the field: `targets.toml: line 7, field
//! `threads`: ...`. Parsing is pure (text in, plan out); reading the file is
//! the caller's job.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::settings::{parse_duration, Overrides};
use crate::sweep::Sweep;

/// qperf side of a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QperfTarget {
    /// Host name or address given to qperf.
    pub host: String,
    /// `-lp` (control port), when not qperf's default 19765.
    pub lp: Option<u16>,
    /// `-ip` (data port), when fixed.
    pub ip: Option<u16>,
}

/// One target (a column of the tables).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Column name.
    pub name: String,
    /// qperf server to measure, if any.
    pub qperf: Option<QperfTarget>,
    /// URL for wrk, if any.
    pub wrk_url: Option<String>,
    /// Per-target settings.
    pub overrides: Overrides,
}

/// A parsed targets file.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetsFile {
    /// `[defaults]`.
    pub defaults: Overrides,
    /// `[[target]]` entries in order.
    pub targets: Vec<Target>,
}

/// A targets-file error with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// File name as given by the user.
    pub origin: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// The key concerned.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ": line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawOptions>,
    target: Option<Vec<Spanned<RawTarget>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    duration: Option<Spanned<String>>,
    threads: Option<Spanned<u32>>,
    connections: Option<Spanned<u32>>,
    qperf_time: Option<Spanned<String>>,
    msg_sizes: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Spanned<String>,
    qperf_host: Option<Spanned<String>>,
    lp: Option<Spanned<u16>>,
    ip: Option<Spanned<u16>>,
    wrk_url: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
    threads: Option<Spanned<u32>>,
    connections: Option<Spanned<u32>>,
    qperf_time: Option<Spanned<String>>,
    msg_sizes: Option<Spanned<String>>,
}

/// Parses a targets file. `origin` names it in error messages.
pub fn parse(text: &str, origin: &str) -> Result<TargetsFile, ConfigError> {
    let ctx = Ctx { text, origin };
    let raw: RawFile = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
    let defaults = match &raw.defaults {
        Some(o) => ctx.options(
            &o.duration,
            &o.threads,
            &o.connections,
            &o.qperf_time,
            &o.msg_sizes,
        )?,
        None => Overrides::default(),
    };
    let raw_targets = raw.target.unwrap_or_default();
    if raw_targets.is_empty() {
        return Err(ctx.error(None, None, "no [[target]] entries"));
    }
    let mut targets: Vec<Target> = Vec::new();
    for spanned in &raw_targets {
        let t = spanned.get_ref();
        let name = t.name.get_ref().trim();
        if name.is_empty() || name.contains('|') {
            return Err(ctx.at(t.name.span(), "name", "must be non-empty and without `|`"));
        }
        if targets.iter().any(|o| o.name == name) {
            return Err(ctx.at(
                t.name.span(),
                "name",
                format!("duplicate target name {name:?}"),
            ));
        }
        let qperf = match &t.qperf_host {
            Some(h)
                if h.get_ref().trim().is_empty() || h.get_ref().contains(char::is_whitespace) =>
            {
                return Err(ctx.at(h.span(), "qperf_host", "must be a host name or address"));
            }
            Some(h) => Some(QperfTarget {
                host: h.get_ref().clone(),
                lp: ctx.port(&t.lp, "lp")?,
                ip: ctx.port(&t.ip, "ip")?,
            }),
            None => {
                if let Some(p) = t.lp.as_ref().or(t.ip.as_ref()) {
                    return Err(ctx.at(p.span(), "qperf_host", "lp/ip given without qperf_host"));
                }
                None
            }
        };
        let wrk_url = match &t.wrk_url {
            Some(u)
                if !(u.get_ref().starts_with("http://") || u.get_ref().starts_with("https://")) =>
            {
                return Err(ctx.at(u.span(), "wrk_url", "must start with http:// or https://"));
            }
            Some(u) => Some(u.get_ref().clone()),
            None => None,
        };
        if qperf.is_none() && wrk_url.is_none() {
            return Err(ctx.at(
                spanned.span(),
                "qperf_host",
                "a target needs qperf_host, wrk_url or both",
            ));
        }
        let overrides = ctx.options(
            &t.duration,
            &t.threads,
            &t.connections,
            &t.qperf_time,
            &t.msg_sizes,
        )?;
        targets.push(Target {
            name: name.to_string(),
            qperf,
            wrk_url,
            overrides,
        });
    }
    Ok(TargetsFile { defaults, targets })
}

struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn error(
        &self,
        line: Option<usize>,
        field: Option<&str>,
        msg: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            origin: self.origin.to_string(),
            line,
            field: field.map(str::to_string),
            message: msg.into(),
        }
    }

    fn at(&self, span: Range<usize>, field: &str, msg: impl Into<String>) -> ConfigError {
        self.error(Some(self.line_of(span.start)), Some(field), msg)
    }

    /// A toml syntax/type error: its line, and the key written on that line.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let line = e.span().map(|s| self.line_of(s.start));
        let message = e.message().trim().to_string();
        let field = quoted_field(&message).or_else(|| {
            let l = self.text.lines().nth(line? - 1)?;
            let key = l.split_once('=')?.0.trim();
            (!key.is_empty()).then(|| key.to_string())
        });
        self.error(line, field.as_deref(), message)
    }

    fn port(&self, p: &Option<Spanned<u16>>, field: &str) -> Result<Option<u16>, ConfigError> {
        match p {
            Some(p) if *p.get_ref() == 0 => Err(self.at(p.span(), field, "port must be 1..65535")),
            Some(p) => Ok(Some(*p.get_ref())),
            None => Ok(None),
        }
    }

    fn options(
        &self,
        duration: &Option<Spanned<String>>,
        threads: &Option<Spanned<u32>>,
        connections: &Option<Spanned<u32>>,
        qperf_time: &Option<Spanned<String>>,
        msg_sizes: &Option<Spanned<String>>,
    ) -> Result<Overrides, ConfigError> {
        let time = |v: &Option<Spanned<String>>, field: &str| match v {
            Some(d) if parse_duration(d.get_ref()).is_none() => Err(self.at(
                d.span(),
                field,
                format!("bad duration {:?} (expected e.g. 10s, 3m, 2)", d.get_ref()),
            )),
            Some(d) => Ok(Some(d.get_ref().clone())),
            None => Ok(None),
        };
        let count = |v: &Option<Spanned<u32>>, field: &str| match v {
            Some(n) if *n.get_ref() == 0 => Err(self.at(n.span(), field, "must be at least 1")),
            Some(n) => Ok(Some(*n.get_ref())),
            None => Ok(None),
        };
        let sweep = match msg_sizes {
            Some(s) => {
                Some(Sweep::parse(s.get_ref()).map_err(|m| self.at(s.span(), "msg_sizes", m))?)
            }
            None => None,
        };
        Ok(Overrides {
            duration: time(duration, "duration")?,
            threads: count(threads, "threads")?,
            connections: count(connections, "connections")?,
            qperf_time: time(qperf_time, "qperf_time")?,
            sweep,
        })
    }
}

/// The first `` `name` `` quoted in a serde message (unknown/missing field).
fn quoted_field(message: &str) -> Option<String> {
    if !(message.contains("field") || message.contains("key")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests;
