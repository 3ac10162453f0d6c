//! `netbench merge FILES...`: several load generators (an Indexed Job's
//! pods, or N local processes) as one run, printed in the tool's own text
//! so parsers of a single run read it unchanged.
//!
//! | module | documents |
//! |---|---|
//! | [`wrk`] | our `wrk --json`, wrk mode (wrk's µs histograms) and `-R` (wrk2's HdrHistograms) |
//! | [`qperf`] | our `qperf --json` (bandwidths summed, latency histograms of `--percentiles` added) |
//!
//! Every merge is lossless where the inputs carry histograms: the merged
//! histogram is the one a single generator would have recorded had it seen
//! every sample. The merged text goes to stdout; the per-worker table (and,
//! for wrk, the skew of the measurement windows) to stderr.

pub mod qperf;
pub mod wrk;

use std::io::{self, Write};

use serde::de::DeserializeOwned;

pub use wrk::{merge_stats, parse_doc, WrkDoc};

/// Which tool wrote a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `wrk --json` (either mode).
    Wrk,
    /// `qperf --json`.
    Qperf,
}

/// The tool behind a document, from its `tool` field.
pub fn kind_of(text: &str, origin: &str) -> Result<Kind, String> {
    #[derive(serde::Deserialize)]
    struct Head {
        tool: Option<String>,
    }
    let head: Head = serde_json::from_str(text)
        .map_err(|e| format!("{origin}: not a wrk or qperf --json document: {e}"))?;
    match head.tool.as_deref() {
        Some("qperf-rs") => Ok(Kind::Qperf),
        Some("wrk-rs") | None => Ok(Kind::Wrk),
        Some(other) => Err(format!(
            "{origin}: written by {other:?}; netbench merges the --json of our wrk and qperf"
        )),
    }
}

/// Parses one `--json` document of `tool` and checks its
/// `format_version` (read by `version`) is the 1 this netbench reads;
/// `origin` names it in errors.
fn parse_v1<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    tool: &str,
    version: fn(&T) -> u32,
) -> Result<T, String> {
    let doc: T = serde_json::from_str(text)
        .map_err(|e| format!("{origin}: not a {tool} --json document: {e}"))?;
    match version(&doc) {
        1 => Ok(doc),
        v => Err(format!(
            "{origin}: format_version {v} (this netbench reads 1)"
        )),
    }
}

/// Parses every text with `parse`, each named by its file in errors.
fn parse_all<T>(
    files: &[String],
    texts: &[String],
    parse: fn(&str, &str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    files.iter().zip(texts).map(|(f, t)| parse(t, f)).collect()
}

/// `netbench merge FILES...`: merged text on stdout, workers on stderr.
pub fn run(files: &[String]) -> Result<i32, String> {
    if files.is_empty() {
        return Err("usage: netbench merge WRK.json... | QPERF.json...".into());
    }
    let mut texts = Vec::new();
    for f in files {
        texts.push(std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?);
    }
    let kinds = files
        .iter()
        .zip(&texts)
        .map(|(f, t)| kind_of(t, f))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(i) = kinds.iter().position(|k| *k != kinds[0]) {
        return Err(format!(
            "{} and {}: one merge takes documents of one tool",
            files[0], files[i]
        ));
    }
    let mut out = Vec::new();
    let mut workers = Vec::new();
    let status = match kinds[0] {
        Kind::Wrk => wrk::run(files, &texts, &mut out, &mut workers)?,
        Kind::Qperf => qperf::run(files, &texts, &mut out, &mut workers)?,
    };
    let _ = io::stdout().write_all(&out);
    let _ = io::stderr().write_all(&workers);
    Ok(status)
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents_of_another_version_or_not_json_are_refused() {
        let e = super::qperf::parse_doc(
            r#"{"format_version":2,"command_line":[],"tests":[]}"#,
            "q.json",
        )
        .unwrap_err();
        assert_eq!(e, "q.json: format_version 2 (this netbench reads 1)");
        let e = super::wrk::parse_doc("[", "w.json").unwrap_err();
        assert!(e.starts_with("w.json: not a wrk --json document: "), "{e}");
    }
}
