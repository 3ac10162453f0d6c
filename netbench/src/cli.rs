//! Command line: raw words → [`Command`] (plain data, no I/O).
//!
//! ```text
//! netbench [OPTIONS] [TARGETS.toml]
//! netbench serve-http ADDR        (internal: the HTTP target in a namespace)
//! netbench k8s [OPTIONS] CONFIG   (the runbook on a cluster: crate::k8s)
//! ```

use std::path::PathBuf;

use crate::settings::{parse_duration, Overrides};
use crate::sweep::Sweep;

/// Help text for `--help`.
pub const USAGE: &str = "\
netbench: the host-vs-pod runbook (qperf tcp_bw/tcp_lat sweep + wrk) against
every target, as Markdown tables, JSON and SVG charts.

Usage: netbench [OPTIONS] [TARGETS.toml]
       netbench k8s [--dry-run] CONFIG.toml   (on Kubernetes; netbench k8s --help)
       netbench merge FILE.json...            (wrk or qperf --json workers as one run)

Without a targets file netbench starts its own targets: qperf and HTTP servers
on loopback and, as root with `ip netns`, inside a network namespace behind a
veth pair (routed /32 addresses from 198.18.0.0/15), directly and through an
emulated Service (iptables DNAT to the pod). Short durations are used
then; a targets file defaults to the seed's commands (wrk -t64 -c20000 -d3m,
qperf 2 s per test).

Options:
  -f, --targets FILE     targets file (TOML; same as the positional argument)
  -o, --out DIR          output directory [default: ./netbench-out]
  -d, --duration D       wrk -d (e.g. 10s, 3m)
  -t, --threads N        wrk -t
  -c, --connections N    wrk -c
      --qperf-time T     qperf -t per test (e.g. 2)
      --msg-sizes SWEEP  qperf -oo msg_size:SWEEP [default: 1:256K:*64]
      --seed             the seed's settings: wrk -t64 -c20000 -d3m, qperf 2 s
      --no-netns         embedded run: loopback target only
      --wrk-workers N    run N wrk processes per target at once (common start,
                         each the full command), merge them into the cell and
                         add a per-worker table [default: 1]
      --qperf PATH       qperf binary to run [default: ours, next to netbench]
      --wrk PATH         wrk binary to run [default: ours, next to netbench]
      --layout seed      tables as the runbook's report: a qperf row per size
                         with tcp_lat, tcp_bw per target; a wrk row per target
  -h, --help             this help
";

/// Options of a benchmark run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunArgs {
    /// Targets file.
    pub targets_file: Option<PathBuf>,
    /// Output directory.
    pub out: PathBuf,
    /// `--qperf`.
    pub qperf: Option<PathBuf>,
    /// `--wrk`.
    pub wrk: Option<PathBuf>,
    /// `--seed`.
    pub seed: bool,
    /// `--no-netns`.
    pub no_netns: bool,
    /// Settings given as flags (override file and target values).
    pub overrides: Overrides,
    /// `--layout`.
    pub layout: crate::report::Layout,
    /// `--wrk-workers` (1: one wrk process, as the runbook).
    pub wrk_workers: u32,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Benchmark.
    Run(RunArgs),
    /// Serve HTTP on an address until killed.
    ServeHttp(String),
    /// `netbench merge FILES...`.
    Merge(Vec<String>),
    /// `netbench k8s`.
    K8s(crate::k8s::K8sArgs),
    /// Print `netbench k8s` help.
    K8sHelp,
    /// Print help.
    Help,
}

/// Splits one word into its flag and a getter of its value: the inline
/// `--flag=value`, else the next word. `prefix` starts the error text.
pub(crate) fn flag_value<'a, 'b>(
    arg: &'a str,
    it: &'b mut std::slice::Iter<'a, String>,
    prefix: &'static str,
) -> (
    &'a str,
    impl FnMut() -> Result<String, String> + use<'a, 'b>,
) {
    let (flag, inline) = match arg.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
        _ => (arg, None),
    };
    let value = move || {
        inline
            .clone()
            .or_else(|| it.next().cloned())
            .ok_or_else(|| format!("{prefix}{flag}: missing value"))
    };
    (flag, value)
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("serve-http") {
        return match args {
            [_, addr] => Ok(Command::ServeHttp(addr.clone())),
            _ => Err("usage: netbench serve-http ADDR".into()),
        };
    }
    if args.first().map(String::as_str) == Some("merge") {
        return Ok(Command::Merge(args[1..].to_vec()));
    }
    if args.first().map(String::as_str) == Some("k8s") {
        return Ok(match crate::k8s::parse_args(&args[1..])? {
            Some(a) => Command::K8s(a),
            None => Command::K8sHelp,
        });
    }
    let mut run = RunArgs {
        out: PathBuf::from("netbench-out"),
        wrk_workers: 1,
        ..RunArgs::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, mut value) = flag_value(arg, &mut it, "");
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--seed" => run.seed = true,
            "--no-netns" => run.no_netns = true,
            "-f" | "--targets" => run.targets_file = Some(PathBuf::from(value()?)),
            "-o" | "--out" => run.out = PathBuf::from(value()?),
            "--qperf" => run.qperf = Some(PathBuf::from(value()?)),
            "--wrk" => run.wrk = Some(PathBuf::from(value()?)),
            "--layout" => run.layout = crate::report::Layout::parse(&value()?)?,
            "-d" | "--duration" => run.overrides.duration = Some(duration(flag, value()?)?),
            "--qperf-time" => run.overrides.qperf_time = Some(duration(flag, value()?)?),
            "-t" | "--threads" => run.overrides.threads = Some(count(flag, &value()?)?),
            "-c" | "--connections" => run.overrides.connections = Some(count(flag, &value()?)?),
            "--wrk-workers" => run.wrk_workers = count(flag, &value()?)?,
            "--msg-sizes" => {
                run.overrides.sweep =
                    Some(Sweep::parse(&value()?).map_err(|e| format!("{flag}: {e}"))?)
            }
            f if f.starts_with('-') && f.len() > 1 => {
                return Err(format!("unknown option {f}; try netbench --help"))
            }
            _ if run.targets_file.is_none() => run.targets_file = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}; try netbench --help")),
        }
    }
    Ok(Command::Run(run))
}

fn duration(flag: &str, v: String) -> Result<String, String> {
    match parse_duration(&v) {
        Some(_) => Ok(v),
        None => Err(format!(
            "{flag}: bad duration {v:?} (expected e.g. 10s, 3m, 2)"
        )),
    }
}

fn count(flag: &str, v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: expected a positive number, got {v:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_and_positional() {
        let Ok(Command::Run(r)) = parse(&words(
            "-d 10s -t 4 --connections=100 --seed t.toml --no-netns",
        )) else {
            panic!("run expected")
        };
        assert_eq!(r.targets_file, Some(PathBuf::from("t.toml")));
        assert_eq!(r.overrides.duration.as_deref(), Some("10s"));
        assert_eq!(
            (r.overrides.threads, r.overrides.connections),
            (Some(4), Some(100))
        );
        assert!(r.seed && r.no_netns);
        assert_eq!(r.out, PathBuf::from("netbench-out"));
        assert_eq!(r.wrk_workers, 1);
        assert!(matches!(
            parse(&words("--wrk-workers 3")),
            Ok(Command::Run(r)) if r.wrk_workers == 3
        ));
        assert!(parse(&words("--wrk-workers 0")).is_err());
    }

    #[test]
    fn errors_and_subcommands() {
        assert!(parse(&words("-d")).is_err());
        assert!(parse(&words("-d 5x")).is_err());
        assert!(parse(&words("-t 0")).is_err());
        assert!(parse(&words("--bogus")).is_err());
        assert!(parse(&words("a.toml b.toml")).is_err());
        assert!(parse(&words("--msg-sizes 1:2")).is_err());
        assert_eq!(
            parse(&words("serve-http 127.0.0.1:1")),
            Ok(Command::ServeHttp("127.0.0.1:1".into()))
        );
        assert_eq!(parse(&words("--help")), Ok(Command::Help));
        let Ok(Command::Run(r)) = parse(&words("--layout seed")) else {
            panic!("run expected")
        };
        assert_eq!(r.layout, crate::report::Layout::Seed);
        assert!(parse(&words("--layout wide")).is_err());
        assert!(matches!(
            parse(&words("k8s --dry-run --layout seed c.toml")),
            Ok(Command::K8s(a)) if a.dry_run && a.layout == crate::report::Layout::Seed
        ));
        assert_eq!(parse(&words("k8s --help")), Ok(Command::K8sHelp));
        assert!(parse(&words("k8s")).is_err());
    }

    #[test]
    fn values_inline_or_next_and_missing_named() {
        let Ok(Command::Run(r)) = parse(&words("--out=a -d 10s")) else {
            panic!("run expected")
        };
        assert_eq!(r.out, PathBuf::from("a"));
        assert_eq!(parse(&words("-o")), Err("-o: missing value".into()));
        assert_eq!(parse(&words("k8s -o")), Err("k8s -o: missing value".into()));
        assert!(matches!(
            parse(&words("k8s --out=b c.toml")),
            Ok(Command::K8s(a)) if a.out.as_os_str() == "b"
        ));
    }
}
