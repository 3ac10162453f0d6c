//! Command line of wrk 4.1.0 (spec §1) plus wrk2's `-R/-U/-B` (spec §6.1).
//!
//! wrk parses with glibc `getopt_long`: arguments are permuted (options after
//! the URL still count, `--` stops), long options take unambiguous prefixes,
//! and errors print glibc's exact diagnostics. Scripts and users depend on
//! those texts and exit codes, so this module reimplements that parser
//! instead of using clap. [`parse`] writes what wrk writes (version line and
//! usage on stdout, diagnostics on stderr) and returns what to do next.

use std::io::Write;

mod getopt;
mod units;

pub use units::{scan_metric, scan_time};

/// wrk's usage text, byte for byte (golden 09): our `-R/-U/-B` options are
/// documented in README.md so the text stays identical for scripts.
pub const USAGE: &str = "\
Usage: wrk <options> <url>                            \n\
\x20 Options:                                            \n\
\x20   -c, --connections <N>  Connections to keep open   \n\
\x20   -d, --duration    <T>  Duration of test           \n\
\x20   -t, --threads     <N>  Number of threads to use   \n\
\x20                                                     \n\
\x20   -s, --script      <S>  Load Lua script file       \n\
\x20   -H, --header      <H>  Add header to request      \n\
\x20       --latency          Print latency statistics   \n\
\x20       --timeout     <T>  Socket/request timeout     \n\
\x20   -v, --version          Print version details      \n\
\x20                                                     \n\
\x20 Numeric arguments may include a SI unit (1k, 1M, 1G)\n\
\x20 Time arguments may include a time unit (2s, 2m, 2h)\n";

/// The `-v` line.
pub const VERSION_LINE: &str = "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer\n";

/// wrk2's message for a zero `-R`.
pub const RATE_REQUIRED: &str = "Throughput MUST be specified with the --rate or -R option";

/// Our opt-in extensions (README "Extensions"): all off by default, and
/// then nothing printed or sent differs from stock wrk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `--json FILE`: the run as one JSON document (`crate::json_report`).
    pub json: Option<std::path::PathBuf>,
    /// `--hdr FILE`: the latency histogram(s) as an HdrHistogram interval log.
    pub hdr: Option<std::path::PathBuf>,
    /// `--errors detail`: socket errors by phase and errno below `Socket errors`.
    pub errors_detail: bool,
    /// `--unix-socket PATH`: connect to this AF_UNIX socket instead of the
    /// URL's address (the URL still gives Host and path).
    pub unix_socket: Option<std::path::PathBuf>,
    /// `--start-at MS`: wait until this wall-clock instant (ms since the
    /// Unix epoch) before starting the threads, so several wrk processes
    /// (`netbench merge`'s workers) measure the same window.
    pub start_at_ms: Option<u64>,
}

/// Everything a run needs from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub threads: u64,
    pub connections: u64,
    /// `-d` in whole seconds.
    pub duration_s: u64,
    /// `--timeout` in ms (whole seconds × 1000, like wrk).
    pub timeout_ms: u64,
    pub script: Option<String>,
    /// Raw `-H` values in order.
    pub headers: Vec<String>,
    /// `-L/--latency` (also implied by `-U`).
    pub latency: bool,
    /// `-R/--rate`: total requests per second (wrk2 mode).
    pub rate: Option<u64>,
    /// `-U/--u_latency`: also print the uncorrected distribution (wrk2).
    pub u_latency: bool,
    /// `-B/--batch_latency`: one latency sample per pipelined batch (wrk2).
    pub batch_latency: bool,
    /// The URL exactly as typed.
    pub url: String,
    /// The parsed URL.
    pub target: crate::url::Url,
    /// URL followed by the remaining non-option words (the script's `args`).
    pub script_args: Vec<String>,
    /// `--json`, `--hdr`, `--errors`, `--unix-socket`, `--start-at`.
    pub ext: Extensions,
}

/// What `main` does after parsing.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Run(Box<Config>),
    /// Everything was already printed; exit with this status.
    Exit(i32),
}

/// Options collected before validation.
struct Raw {
    threads: u64,
    connections: u64,
    duration_s: u64,
    timeout_ms: u64,
    script: Option<String>,
    headers: Vec<String>,
    latency: bool,
    rate: Option<u64>,
    u_latency: bool,
    batch_latency: bool,
    ext: Extensions,
}

impl Default for Raw {
    fn default() -> Raw {
        Raw {
            threads: 2,
            connections: 10,
            duration_s: 10,
            timeout_ms: 2000,
            script: None,
            headers: Vec::new(),
            latency: false,
            rate: None,
            u_latency: false,
            batch_latency: false,
            ext: Extensions::default(),
        }
    }
}

/// Parses `argv` (including `argv[0]`, used as the diagnostic prefix).
/// The version line and the usage go to `out`, messages to `err`.
pub fn parse<O: Write, E: Write>(argv: &[String], out: &mut O, err: &mut E) -> Parsed {
    match parse_inner(argv, out, err) {
        Ok(cfg) => Parsed::Run(Box::new(cfg)),
        Err(()) => {
            let _ = out.write_all(USAGE.as_bytes());
            let _ = out.flush();
            Parsed::Exit(1)
        }
    }
}

fn parse_inner<O: Write, E: Write>(
    argv: &[String],
    out: &mut O,
    err: &mut E,
) -> Result<Config, ()> {
    let prog = argv.first().map(String::as_str).unwrap_or("wrk");
    let args = argv.get(1..).unwrap_or(&[]);
    let mut raw = Raw::default();
    let mut parser = getopt::Parser::new(args, getopt::posixly_correct());
    for item in parser.by_ref() {
        let (opt, value) = match item {
            Ok(o) => o,
            Err(e) => {
                let _ = writeln!(err, "{prog}: {e}");
                return Err(());
            }
        };
        let value = value.unwrap_or_default();
        match opt {
            't' => raw.threads = scan_metric(&value).ok_or(())?,
            'c' => raw.connections = scan_metric(&value).ok_or(())?,
            'd' => raw.duration_s = scan_time(&value).ok_or(())?,
            'T' => raw.timeout_ms = scan_time(&value).ok_or(())?.wrapping_mul(1000),
            's' => raw.script = Some(value),
            'H' => raw.headers.push(value),
            'L' => raw.latency = true,
            'R' => raw.rate = Some(scan_metric(&value).ok_or(())?),
            'U' => {
                raw.u_latency = true;
                raw.latency = true;
            }
            'B' => raw.batch_latency = true,
            'v' => {
                let _ = out.write_all(VERSION_LINE.as_bytes());
            }
            getopt::JSON => raw.ext.json = Some(value.into()),
            getopt::HDR => raw.ext.hdr = Some(value.into()),
            getopt::UNIX_SOCKET => raw.ext.unix_socket = Some(value.into()),
            getopt::START_AT => match value.parse::<u64>() {
                Ok(ms) => raw.ext.start_at_ms = Some(ms),
                Err(_) => {
                    let _ = writeln!(
                        err,
                        "{prog}: invalid --start-at value '{value}' (expected ms since the Unix epoch)"
                    );
                    return Err(());
                }
            },
            getopt::ERRORS => match value.as_str() {
                "detail" => raw.ext.errors_detail = true,
                // `summary` is stock's behaviour, accepted for symmetry.
                "summary" => raw.ext.errors_detail = false,
                other => {
                    let _ = writeln!(
                        err,
                        "{prog}: invalid --errors value '{other}' (expected 'detail' or 'summary')"
                    );
                    return Err(());
                }
            },
            // 'h' (--help), '?', 'r' and anything else: silent usage.
            _ => return Err(()),
        }
    }
    let words = parser.into_operands();
    if words.is_empty() || raw.threads == 0 || raw.duration_s == 0 {
        return Err(());
    }
    let url = words[0].clone();
    let Some(target) = crate::url::parse(&url) else {
        let _ = writeln!(err, "invalid URL: {url}");
        return Err(());
    };
    if raw.connections == 0 || raw.connections < raw.threads {
        let _ = writeln!(err, "number of connections must be >= threads");
        return Err(());
    }
    if raw.rate == Some(0) {
        let _ = writeln!(err, "{RATE_REQUIRED}");
        return Err(());
    }
    Ok(Config {
        threads: raw.threads,
        connections: raw.connections,
        duration_s: raw.duration_s,
        timeout_ms: raw.timeout_ms,
        script: raw.script,
        headers: raw.headers,
        latency: raw.latency,
        rate: raw.rate,
        u_latency: raw.u_latency,
        batch_latency: raw.batch_latency,
        url,
        target,
        script_args: words,
        ext: raw.ext,
    })
}

#[cfg(test)]
mod tests;
