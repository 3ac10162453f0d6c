//! One benchmark run, in wrk's order (spec §2.1): limits, script, resolve,
//! per-thread setup and start, banner, wait (duration or SIGINT), join,
//! merge, correction, report, `done()`.
//!
//! Without `-s` no Lua is touched: the request is built and validated here.
//! With `-R` the wrk2 report replaces wrk's.

mod signal;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::cli::Config;
use crate::engine::{self, EngineConfig, RateConfig, ThreadHandle, ThreadResult};
use crate::script::{self, ScriptEnv};
use crate::script_api::{MainScript, ScriptFailure, ScriptShape};
use crate::{error_detail, hdr_log, json_report, limits, report, request, resolve};

/// A fatal condition before or after the run: message for stderr, status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    pub message: String,
    pub code: i32,
}

impl From<ScriptFailure> for Fatal {
    fn from(f: ScriptFailure) -> Fatal {
        Fatal {
            message: f.message,
            code: f.exit_code,
        }
    }
}

fn fatal1(message: String) -> Fatal {
    Fatal { message, code: 1 }
}

/// Runs the benchmark; returns the exit status (0 after any completed run).
pub fn run(cfg: &Config) -> i32 {
    match run_inner(cfg) {
        Ok(()) => 0,
        Err(f) => {
            let _ = std::io::stdout().flush();
            warn(&f.message);
            f.code
        }
    }
}

/// One line on stderr; never panics (a closed stderr is ignored).
fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn script_env(cfg: &Config, headers: &[(String, String)]) -> ScriptEnv {
    ScriptEnv {
        scheme: cfg.target.scheme.clone(),
        host: cfg.target.host.clone(),
        port: cfg.target.port.clone().unwrap_or_default(),
        method: "GET".into(),
        path: cfg.target.path.clone(),
        headers: headers.to_vec(),
        body: None,
        args: cfg.script_args.clone(),
        rate_mode: cfg.rate.is_some(),
    }
}

/// Lookup + probe, through the script when there is one. With
/// `--unix-socket` nothing is looked up (the URL host may not resolve): the
/// connections go to the socket, and the script's thread address is the
/// loopback address with the URL's port.
fn resolve_target(
    cfg: &Config,
    main: Option<&mut Box<dyn MainScript>>,
) -> Result<Vec<std::net::SocketAddr>, Fatal> {
    if cfg.ext.unix_socket.is_some() {
        let port = cfg.target.service().parse().unwrap_or(80);
        return Ok(vec![(std::net::Ipv4Addr::LOCALHOST, port).into()]);
    }
    let host = &cfg.target.host;
    let service = cfg.target.service();
    let addrs = match main {
        Some(m) => m.resolve(host, service)?,
        None => resolve::resolve(host, service).map_err(fatal1)?,
    };
    if addrs.is_empty() {
        // The script's probe found nothing: repeat ours for the errno text.
        let msg = match resolve::resolve(host, service) {
            Err(m) => m,
            Ok(_) => format!("unable to connect to {host}:{service} Connection refused"),
        };
        return Err(fatal1(msg));
    }
    Ok(addrs)
}

/// The `--json` / `--hdr` files, created before the run so that a path
/// that cannot be written fails at once instead of after the run.
struct Outputs {
    json: Option<File>,
    hdr: Option<File>,
}

fn create_output(path: Option<&Path>, what: &str) -> Result<Option<File>, Fatal> {
    let Some(path) = path else { return Ok(None) };
    File::create(path).map(Some).map_err(|e| {
        fatal1(format!(
            "wrk: cannot create {what} file {}: {}",
            path.display(),
            os_message(&e)
        ))
    })
}

fn os_message(e: &std::io::Error) -> String {
    crate::sys::io_message(e)
}

fn run_inner(cfg: &Config) -> Result<(), Fatal> {
    let outputs = Outputs {
        json: create_output(cfg.ext.json.as_deref(), "--json")?,
        hdr: create_output(cfg.ext.hdr.as_deref(), "--hdr")?,
    };
    signal::ignore_during_setup();
    let sockets = (cfg.connections / cfg.threads).saturating_mul(cfg.threads);
    if let Some(w) = limits::check(sockets, cfg.threads, limits::raise_nofile()) {
        warn(&w);
    }
    let headers = request::headers_warn(&cfg.headers, &mut |w| warn(&w));
    let mut main = match &cfg.script {
        Some(path) => Some(script::load(path, &script_env(cfg, &headers))?),
        None => None,
    };
    let addrs = resolve_target(cfg, main.as_mut())?;
    let stop = Arc::new(AtomicBool::new(false));
    let fatal = Arc::new(engine::FatalSlot::new(signal::wake));
    if let Some(ms) = cfg.ext.start_at_ms {
        wait_for_start(ms);
    }
    let handles = start_threads(cfg, &headers, main.as_mut(), addrs[0], &stop, &fatal)?;
    let (results, window) = wait_and_join(cfg, handles, &stop, &fatal)?;
    report_and_done(cfg, main.as_mut(), &results, &window, outputs)?;
    // Thread scripts stay alive until after done() (thread:get reads them).
    drop(results);
    Ok(())
}

/// Creates and starts every worker in order (thread 0 validates the
/// request and decides the script shape for all, like wrk).
fn start_threads(
    cfg: &Config,
    headers: &[(String, String)],
    mut main: Option<&mut Box<dyn MainScript>>,
    addr0: std::net::SocketAddr,
    stop: &Arc<AtomicBool>,
    fatal: &Arc<engine::FatalSlot>,
) -> Result<Vec<ThreadHandle>, Fatal> {
    let threads = usize::try_from(cfg.threads).unwrap_or(usize::MAX);
    let per_thread = usize::try_from(cfg.connections / cfg.threads).unwrap_or(usize::MAX);
    // Without a script: one static request, validated like thread 0's.
    let static_request = match main {
        None => {
            let req = request::build(&cfg.target, headers);
            let depth = request::validate(&req).map_err(fatal1)?;
            Some((Arc::new(req), depth))
        }
        Some(_) => None,
    };
    let mut handles: Vec<ThreadHandle> = Vec::with_capacity(threads.min(4096));
    let mut shape: Option<ScriptShape> = None;
    for i in 0..threads {
        let mut thread_script = None;
        let (addr, req, pipeline) = match (main.as_deref_mut(), &static_request) {
            (Some(m), _) => {
                let mut ts = m.create_thread(i, addr0)?;
                if i == 0 {
                    shape = Some(ts.validate()?);
                }
                let sh = shape.clone().unwrap_or(ScriptShape {
                    pipeline: 1,
                    dynamic: false,
                    delay: false,
                    response: false,
                });
                let mut buf = Vec::new();
                if !sh.dynamic {
                    ts.request(&mut buf)?;
                }
                let addr = ts.addr();
                thread_script = Some(ts);
                (addr, Arc::new(buf), sh.pipeline.max(1))
            }
            (None, Some((req, depth))) => (addr0, req.clone(), *depth),
            (None, None) => unreachable!("static request exists without a script"),
        };
        let ecfg = EngineConfig {
            index: i,
            addr,
            unix_socket: cfg.ext.unix_socket.as_deref().map(Arc::from),
            tls_server_name: cfg.target.tls().then(|| cfg.target.host.clone()),
            connections: per_thread,
            timeout_ms: cfg.timeout_ms,
            request: req,
            pipeline,
            rate: cfg.rate.map(|r| RateConfig {
                total_rate: r as f64,
                total_connections: per_thread.saturating_mul(threads),
                first_connection: per_thread.saturating_mul(i),
                batch_latency: cfg.batch_latency,
            }),
            script_shape: shape.clone(),
        };
        let handle = engine::start_thread(ecfg, thread_script, stop.clone(), fatal.clone())
            .map_err(|e| Fatal {
                message: e.to_string(),
                code: 2,
            })?;
        handles.push(handle);
    }
    Ok(handles)
}

/// `--start-at`: sleeps until the wall clock reaches `ms` (since the
/// epoch); an instant already past starts at once, saying by how much.
fn wait_for_start(ms: u64) {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ms);
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => std::thread::sleep(wait),
        Err(late) => warn(&format!(
            "wrk: --start-at is {} ms in the past; starting now",
            late.duration().as_millis()
        )),
    }
}

/// The measurement window: banner to joined threads.
struct Window {
    /// Wall clock at the start and the end (for `--json`, `--hdr`).
    start: SystemTime,
    end: SystemTime,
    /// Monotonic length in µs (wrk's runtime).
    runtime_us: u64,
}

/// Banner, then `duration` seconds or a SIGINT, then stop and join; returns
/// the results and the measured window (banner to joined, like wrk). A
/// script failure in a worker ends the wait at once and is returned (wrk's
/// LuaJIT panic ends the process).
fn wait_and_join(
    cfg: &Config,
    handles: Vec<ThreadHandle>,
    stop: &AtomicBool,
    fatal: &engine::FatalSlot,
) -> Result<(Vec<ThreadResult>, Window), Fatal> {
    let interrupt = signal::Interrupt::arm();
    let mut out = std::io::stdout();
    let _ = common::wrk::report::render_banner(
        &mut out,
        cfg.duration_s,
        &cfg.url,
        cfg.threads,
        cfg.connections,
    );
    let _ = out.flush();
    let start = Instant::now();
    let start_wall = SystemTime::now();
    let deadline = start
        .checked_add(Duration::from_secs(cfg.duration_s))
        .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 86_400));
    if fatal.get().is_none() {
        interrupt.wait_until(deadline);
    }
    if let Some(f) = fatal.get() {
        return Err(f.into());
    }
    stop.store(true, Ordering::SeqCst);
    let mut results: Vec<ThreadResult> = handles.into_iter().map(ThreadHandle::join).collect();
    if let Some(f) = results.iter_mut().find_map(|r| r.failure.take()) {
        return Err(f.into());
    }
    let runtime_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let window = Window {
        start: start_wall,
        end: SystemTime::now(),
        runtime_us,
    };
    Ok((results, window))
}

/// Merges, corrects and prints the report (and writes `--json`/`--hdr`),
/// then calls `done()`.
fn report_and_done(
    cfg: &Config,
    main: Option<&mut Box<dyn MainScript>>,
    results: &[ThreadResult],
    window: &Window,
    outputs: Outputs,
) -> Result<(), Fatal> {
    let runtime_us = window.runtime_us;
    let mut out = std::io::stdout();
    let mut totals = report::merge(results, runtime_us);
    let mut buf = Vec::new();
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let info = json_report::RunInfo {
        cfg,
        argv: &argv,
        start: window.start,
        end: window.end,
        runtime_us,
    };
    let document;
    let hdr: Vec<(Option<&str>, hdrhistogram::Histogram<u64>)>;
    if cfg.rate.is_some() {
        let model = rate_mode_model(cfg, results, &totals);
        let _ = common::wrk2::report::render(&mut buf, &model);
        document = outputs
            .json
            .is_some()
            .then(|| json_report::wrk2(&info, results, &model, &totals.requests));
        hdr = match outputs.hdr {
            Some(_) => vec![
                (
                    None,
                    crate::report_wrk2::merged_corrected(results)
                        .histogram()
                        .clone(),
                ),
                (
                    Some(hdr_log::UNCORRECTED_TAG),
                    crate::report_wrk2::merged_uncorrected(results)
                        .histogram()
                        .clone(),
                ),
            ],
            None => Vec::new(),
        };
    } else {
        let raw = outputs.json.as_ref().map(|_| totals.latency.clone());
        report::correct(&mut totals, cfg.connections);
        let numbers = report::numbers(cfg.latency, &totals);
        let _ = common::wrk::report::render_summary(&mut buf, &numbers);
        document = raw.map(|raw| {
            json_report::wrk(
                &info,
                results,
                &numbers,
                &totals.latency,
                &raw,
                &totals.requests,
            )
        });
        hdr = match outputs.hdr {
            Some(_) => vec![(None, hdr_log::from_wrk_stats(&totals.latency))],
            None => Vec::new(),
        };
    }
    if cfg.ext.errors_detail {
        let lines = json_report::merged_detail(results).lines();
        buf = error_detail::insert_below_socket_errors(&buf, &lines);
    }
    let _ = out.write_all(&buf);
    let _ = out.flush();

    let mut failure = None;
    if let (Some(file), Some(doc)) = (outputs.json, document) {
        if let Err(e) = write_json(file, &doc) {
            failure = Some(output_failure(cfg.ext.json.as_deref(), "--json", &e));
        }
    }
    if let Some(file) = outputs.hdr {
        if let Err(e) = write_hdr(file, window, &hdr) {
            failure = Some(output_failure(cfg.ext.hdr.as_deref(), "--hdr", &e));
        }
    }

    if let Some(m) = main {
        if m.has_done() {
            if cfg.rate.is_some() {
                // wrk2: done() sees the HdrHistograms (corrected latency).
                let latency = crate::report_wrk2::merged_corrected(results);
                let requests = crate::report_wrk2::requests_recorder(&totals.requests);
                m.done_hdr(&report::summary(&totals), &latency, &requests)?;
            } else {
                m.done(&report::summary(&totals), &totals.latency, &totals.requests)?;
            }
        }
    }
    let _ = out.flush();
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

fn write_json(file: File, doc: &json_report::Document) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, doc).map_err(std::io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}

fn write_hdr(
    file: File,
    window: &Window,
    hdr: &[(Option<&str>, hdrhistogram::Histogram<u64>)],
) -> std::io::Result<()> {
    let entries: Vec<hdr_log::Entry> = hdr
        .iter()
        .map(|(tag, h)| hdr_log::Entry {
            tag: *tag,
            histogram: h,
        })
        .collect();
    let mut w = std::io::BufWriter::new(file);
    hdr_log::write_log(
        &mut w,
        window.start,
        Duration::from_micros(window.runtime_us),
        &entries,
    )
}

fn output_failure(path: Option<&Path>, what: &str, e: &std::io::Error) -> Fatal {
    let path = path.map(|p| p.display().to_string()).unwrap_or_default();
    fatal1(format!(
        "wrk: cannot write {what} file {path}: {}",
        os_message(e)
    ))
}

/// The `-R` report's model (wrk2 layout).
fn rate_mode_model(
    cfg: &Config,
    results: &[ThreadResult],
    totals: &report::Totals,
) -> common::wrk2::report::Model {
    let opts = crate::report_wrk2::Options {
        latency: cfg.latency,
        u_latency: cfg.u_latency,
        connections_per_thread: usize::try_from(cfg.connections / cfg.threads.max(1))
            .unwrap_or(usize::MAX),
    };
    crate::report_wrk2::build_model(results, totals.runtime_us, &opts)
}
