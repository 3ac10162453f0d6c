//! Parser for `qperf ... -vu tcp_bw tcp_lat` standard output.
//!
//! The output is a sequence of blocks: a test name line (`tcp_bw:`) at
//! column 0, then indented `name = value unit` lines (qperf.md §6.2). Any
//! other unindented line is a message (an error such as
//! `127.0.0.1: failed to connect`, or a `warning: ...`): qperf prints errors
//! on stdout and stops there, so messages are kept in order for the report.

use serde::Serialize;

use super::{units, Figure};

/// One result block.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Block {
    /// Test name, e.g. `tcp_bw`.
    pub test: String,
    /// `msg_size` in bytes, when the block shows it (`-vu`).
    pub msg_size: Option<u64>,
    /// `bw` line.
    pub bw: Option<Figure>,
    /// `latency` line.
    pub latency: Option<Figure>,
    /// Every `name = value` line verbatim (value text without padding).
    pub lines: Vec<(String, String)>,
}

/// Everything found in one run's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Output {
    /// Result blocks in order; a block with no lines means the test started
    /// and then failed.
    pub blocks: Vec<Block>,
    /// Unindented non-header lines (errors, warnings), in order.
    pub messages: Vec<String>,
}

impl Output {
    /// Error messages (messages that are not warnings).
    pub fn errors(&self) -> impl Iterator<Item = &str> {
        self.messages
            .iter()
            .map(String::as_str)
            .filter(|m| !m.starts_with("warning:"))
    }

    /// The block of `test` run with `msg_size`, if it completed.
    pub fn find(&self, test: &str, msg_size: u64) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|b| b.test == test && b.msg_size == Some(msg_size) && !b.lines.is_empty())
    }
}

/// Parses qperf's stdout. Never fails: unknown lines become messages.
pub fn parse(stdout: &str) -> Output {
    let mut out = Output::default();
    for line in stdout.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ') {
            match (out.blocks.last_mut(), split_entry(line)) {
                (Some(block), Some((name, value))) => add_entry(block, name, value),
                _ => out.messages.push(line.trim().to_string()),
            }
        } else if is_header(line) {
            out.blocks.push(Block {
                test: line.trim_end_matches(':').to_string(),
                ..Block::default()
            });
        } else {
            out.messages.push(line.trim_end().to_string());
        }
    }
    out
}

/// `tcp_bw:`: one word of test-name characters ending in a colon.
fn is_header(line: &str) -> bool {
    line.strip_suffix(':').is_some_and(|name| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// `    bw        =  1.21 MB/sec` → (`bw`, `1.21 MB/sec`).
fn split_entry(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    (!name.is_empty() && !name.contains(' ')).then_some((name, value.trim()))
}

fn add_entry(block: &mut Block, name: &str, text: &str) {
    let mut words = text.split_whitespace();
    let number = words.next().and_then(units::qperf_number);
    let unit = words.next().unwrap_or("");
    let alt = words
        .next()
        .and_then(|w| w.strip_prefix('(')?.strip_suffix(')'))
        .and_then(units::qperf_number);
    let figure = |value: Option<f64>| {
        value.map(|value| Figure {
            text: text.to_string(),
            value,
        })
    };
    match (name, number) {
        ("bw", Some(v)) => block.bw = figure(units::qperf_bandwidth(v, unit)),
        ("latency", Some(v)) => block.latency = figure(units::qperf_time(v, unit)),
        ("msg_size", Some(v)) => {
            let bytes = alt.or_else(|| units::qperf_size(v, unit));
            block.msg_size = bytes.filter(|b| *b >= 0.0).map(|b| b.round() as u64);
        }
        _ => {}
    }
    block.lines.push((name.to_string(), text.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_error_lines() {
        let out = parse("tcp_bw:\n    bw        =  1.21 MB/sec\n    msg_size  =     4 KiB (4,096)\ntcp_lat:\n127.0.0.1: failed to connect\n");
        assert_eq!(out.blocks.len(), 2);
        let bw = out.find("tcp_bw", 4096).expect("block");
        assert_eq!(bw.bw.as_ref().map(|f| f.text.as_str()), Some("1.21 MB/sec"));
        assert!((bw.bw.as_ref().unwrap().value - 1.21e6).abs() < 1e-3);
        assert!(out.find("tcp_lat", 4096).is_none());
        assert_eq!(
            out.errors().collect::<Vec<_>>(),
            ["127.0.0.1: failed to connect"]
        );
    }

    #[test]
    fn warnings_are_not_errors_and_junk_never_panics() {
        let out = parse("warning: -sl set but not used\n   = \n  x y = z\n\u{0}:\n:\n");
        assert_eq!(out.errors().count(), 4);
        assert!(out.blocks.is_empty());
    }
}
