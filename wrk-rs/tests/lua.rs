//! The Lua layer end to end: our `wrk -s` against the golden captures and,
//! side by side, against stock wrk on the same local server (issue 5).
//!
//! Error cases compare stderr byte for byte. Live runs compare what scripts
//! print (numbers masked where they are run-specific) and check that the
//! numbers scripts print are consistent with the report.

mod support;

use std::time::Duration;

use support::{run_within, Out, GOLDEN, OURS};
use testkit::{http::HttpTarget, stock};

fn run(bin: &str, args: &[&str]) -> Out {
    run_within(bin, args, Duration::from_secs(60))
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!("{GOLDEN}{name}")).unwrap_or_default()
}

/// The report lines of a run (from `Running` to `Transfer/sec`).
fn report_span(stdout: &str) -> (usize, usize) {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("Running "))
        .unwrap_or(0);
    let end = lines
        .iter()
        .position(|l| l.starts_with("Transfer/sec:"))
        .unwrap_or(lines.len().saturating_sub(1));
    (start, end)
}

/// Lines printed before the banner and after the report (script output).
fn script_lines(stdout: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    let (s, e) = report_span(stdout);
    (
        lines[..s].to_vec(),
        lines[(e + 1).min(lines.len())..].to_vec(),
    )
}

// ---- error paths: byte-exact against the golden captures ----

#[test]
fn golden_33_init_error_panics() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &["-t1", "-c1", "-d1s", "-s", "init_error.lua", &t.url("/")],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, golden("33-lua-init-error-panic.stderr"));
    assert_eq!(o.stdout, "");
}

#[test]
fn golden_34_invalid_method() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &["-t1", "-c1", "-d1s", "-s", "bad_method.lua", &t.url("/")],
    );
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, golden("34-invalid-method.stderr"));
    assert_eq!(o.stdout, "");
}

#[test]
fn golden_32_syntax_error_once_per_state_then_runs() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &["-t2", "-c2", "-d1s", "-s", "syntax_error.lua", &t.url("/")],
    );
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stderr, golden("32-lua-syntax-error.stderr"));
    assert!(o.stdout.starts_with("Running 1s test @ "), "{}", o.stdout);
}

#[test]
fn golden_35_missing_script_once_per_state_then_runs() {
    let t = HttpTarget::start();
    let o = run(
        OURS,
        &[
            "-t1",
            "-c1",
            "-d1s",
            "-s",
            "does_not_exist.lua",
            &t.url("/"),
        ],
    );
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stderr, golden("35-missing-script-file.stderr"));
    assert!(o.stdout.starts_with("Running 1s test @ "), "{}", o.stdout);
}

#[test]
fn golden_28_init_args_before_banner() {
    let t = HttpTarget::start();
    let url = t.url("/small.txt");
    let o = run(
        OURS,
        &[
            "-t2",
            "-c2",
            "-d1s",
            "-s",
            "args_init.lua",
            &url,
            "extra1",
            "--",
            "-c",
            "99",
            "--flag",
        ],
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let (before, _) = script_lines(&o.stdout);
    // Golden 28 with the port and URL of this server substituted.
    let want: Vec<String> = golden("28-script-args.stdout")
        .lines()
        .take(4)
        .map(|l| {
            l.replace("http://127.0.0.1:8089/small.txt", &url)
                .replace("8089", &t.addr().port().to_string())
        })
        .collect();
    assert_eq!(before, want);
}

/// Runtime errors raised by our thread objects carry wrk's texts.
#[test]
fn thread_object_errors_match_stock() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let t = HttpTarget::start();
    let dir = testkit::tmp::TempDir::new("wrk-lua").unwrap();
    for (name, text) in [
        ("set_field.lua", "function setup(t) t.foo = 1 end\n"),
        ("set_addr.lua", "function setup(t) t.addr = 1 end\n"),
        ("xfer.lua", "function setup(t) t:set('f', print) end\n"),
        (
            "req_err.lua",
            "function request() error('in request') end\n",
        ),
        ("nil_req.lua", "function request() return nil end\n"),
        (
            "bad_hdr.lua",
            "function request() return 'GET / HTTP/1.1\\r\\nBad Name: v\\r\\n\\r\\n' end\n",
        ),
        ("garbage.lua", "function request() return 'GARBAGE' end\n"),
        ("err_table.lua", "function init() error({}) end\n"),
        (
            "err_mid_request.lua",
            "local n = 0\nfunction request() n = n + 1 if n == 50 then error('late') end return wrk.request() end\n",
        ),
        (
            "err_mid_response.lua",
            "local n = 0\nfunction response() n = n + 1 if n == 50 then error('resp') end end\n",
        ),
        (
            "err_mid_delay.lua",
            "local n = 0\nfunction delay() n = n + 1 if n == 20 then error('dly') end return 0 end\n",
        ),
        ("err_number.lua", "function init() error(42) end\n"),
        (
            "err_index.lua",
            "function init() local x = nil; x.y = 1 end\n",
        ),
        ("err_done.lua", "function done() error('late') end\n"),
        (
            "err_setup.lua",
            "function setup(t) t:get(nil, 1, 2) error('s') end\n",
        ),
        (
            "no_blank.lua",
            "function request() return 'GET / HTTP/1.1\\r\\nHost: x\\r\\n' end\n",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let p = p.to_string_lossy().into_owned();
        let args = ["-t1", "-c1", "-d1s", "-s", &p, &t.url("/")];
        let ours = run(OURS, &args);
        let theirs = run(wrk.to_str().unwrap(), &args);
        assert_eq!(ours.stderr, theirs.stderr, "{name}");
        assert_eq!(ours.code, theirs.code, "{name}");
    }
}

// ---- live runs: ours and stock on the same server ----

const STOCK_SCRIPTS: &str = "/usr/share/doc/wrk/examples/scripts/";

/// One run's interesting parts.
#[derive(Debug)]
struct Run {
    out: Out,
    requests: u64,
    non2xx: u64,
    /// Report lines reduced to their text before the first digit.
    shape: Vec<String>,
    before: Vec<String>,
    after: Vec<String>,
}

fn first_number(s: &str) -> Option<u64> {
    let d: String = s
        .trim_start()
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    d.parse().ok()
}

fn analyse(out: Out) -> Run {
    let (s, e) = report_span(&out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let report = &lines[s..=e.min(lines.len().saturating_sub(1))];
    let requests = report
        .iter()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| first_number(l))
        .unwrap_or(0);
    let non2xx = report
        .iter()
        .find_map(|l| l.strip_prefix("  Non-2xx or 3xx responses: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let shape = report
        .iter()
        .map(|l| {
            let cut = l
                .find(|c: char| c.is_ascii_digit() || c == '-')
                .unwrap_or(l.len());
            l[..cut].trim_end().to_string()
        })
        .collect();
    let (before, after) = script_lines(&out.stdout);
    Run {
        out,
        requests,
        non2xx,
        shape,
        before,
        after,
    }
}

/// Runs `script` under ours and stock (in that order) against one server.
fn both(script: &str, threads: u32, conns: u32, path: &str) -> Option<(Run, Run, HttpTarget)> {
    let wrk = stock::require("wrk")?;
    let t = HttpTarget::start();
    let url = t.url(path);
    let (ts, cs) = (format!("-t{threads}"), format!("-c{conns}"));
    let args = [ts.as_str(), cs.as_str(), "-d1s", "-s", script, url.as_str()];
    let ours = analyse(run(OURS, &args));
    let theirs = analyse(run(wrk.to_str().unwrap(), &args));
    for r in [&ours, &theirs] {
        assert_eq!(r.out.code, Some(0), "{script}: {}", r.out.stderr);
        assert_eq!(r.out.stderr, "", "{script}");
    }
    assert_eq!(
        ours.shape, theirs.shape,
        "{script}: report layout\n{}\n{}",
        ours.out.stdout, theirs.out.stdout
    );
    Some((ours, theirs, t))
}

fn stock_script(name: &str) -> String {
    format!("{STOCK_SCRIPTS}{name}")
}

/// Both saw traffic (guards against comparing two empty runs).
fn assert_ran(ours: &Run, theirs: &Run) {
    assert!(
        ours.requests > 0,
        "ours made no requests:\n{}",
        ours.out.stdout
    );
    assert!(
        theirs.requests > 0,
        "stock made no requests:\n{}",
        theirs.out.stdout
    );
}

#[test]
fn stock_setup_lua() {
    let Some((ours, theirs, _t)) = both(&stock_script("setup.lua"), 2, 4, "/") else {
        return;
    };
    assert_ran(&ours, &theirs);
    for r in [&ours, &theirs] {
        assert_eq!(
            r.before,
            ["thread 1 created", "thread 2 created"],
            "{}",
            r.out.stdout
        );
        assert_eq!(r.after.len(), 2, "{}", r.out.stdout);
        let mut responses = 0;
        for (i, l) in r.after.iter().enumerate() {
            // "thread N made X requests and got Y responses"
            let w: Vec<&str> = l.split(' ').collect();
            assert_eq!(
                (w[0], w[2], w[4], w[5], w[6], w[8]),
                ("thread", "made", "requests", "and", "got", "responses")
            );
            assert_eq!(w[1], (i + 1).to_string());
            let (made, got): (u64, u64) = (w[3].parse().unwrap(), w[7].parse().unwrap());
            // At most one batch in flight per connection, plus thread 1's validation call.
            assert!(made >= got && made <= got + 2 + u64::from(i == 0), "{l}");
            responses += got;
        }
        // Numbers printed by done() agree with the report.
        assert_eq!(responses, r.requests, "{}", r.out.stdout);
    }
}

#[test]
fn stock_stop_lua() {
    let Some((ours, theirs, _t)) = both(&stock_script("stop.lua"), 2, 4, "/") else {
        return;
    };
    for r in [&ours, &theirs] {
        // Each thread stops after its 100th response (a few may still land in the same event round).
        assert!((200..=204).contains(&r.requests), "{}", r.out.stdout);
    }
}

#[test]
fn stock_report_lua() {
    let Some((ours, theirs, _t)) = both(&stock_script("report.lua"), 2, 4, "/") else {
        return;
    };
    assert_ran(&ours, &theirs);
    for r in [&ours, &theirs] {
        assert_eq!(r.after.len(), 5, "{}", r.out.stdout);
        assert_eq!(r.after[0], "------------------------------");
        let mut last = 0;
        for (l, p) in r.after[1..]
            .iter()
            .zip(["50%,", "90%,", "99%,", "99.999%,"])
        {
            let v: u64 = l.strip_prefix(p).expect(l).parse().expect(l);
            assert!(v >= last && v > 0, "{l}");
            last = v;
        }
    }
}

#[test]
fn golden_done_stats_lua() {
    let Some((ours, theirs, _t)) = both("done_stats.lua", 2, 4, "/") else {
        return;
    };
    assert_ran(&ours, &theirs);
    let masked = |r: &Run| -> Vec<String> {
        r.after
            .iter()
            .map(|l| {
                l.chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect::<String>()
            })
            .map(|l| {
                // collapse runs of digits
                let mut s = String::new();
                for c in l.chars() {
                    if !(c == '9' && s.ends_with('9')) {
                        s.push(c);
                    }
                }
                s
            })
            .collect()
    };
    assert_eq!(masked(&ours), masked(&theirs));
    for r in [&ours, &theirs] {
        let summary = &r.after[0];
        assert!(
            summary.contains(&format!(" requests={} ", r.requests)),
            "{summary} vs {}",
            r.requests
        );
        assert!(
            r.after.iter().any(|l| l == "latency: p100=0"),
            "{:?}",
            r.after
        );
        assert!(
            r.after.iter().any(|l| l == "requests: p100=0"),
            "{:?}",
            r.after
        );
    }
}

#[test]
fn stock_counter_lua_paths_are_404() {
    let Some((ours, theirs, _t)) = both(&stock_script("counter.lua"), 2, 4, "/") else {
        return;
    };
    assert_ran(&ours, &theirs);
    for r in [&ours, &theirs] {
        assert_eq!(r.non2xx, r.requests, "{}", r.out.stdout);
    }
}

#[test]
fn stock_addr_lua() {
    let Some((ours, theirs, t)) = both(&stock_script("addr.lua"), 2, 4, "/") else {
        return;
    };
    assert_ran(&ours, &theirs);
    let want = format!("thread addr: {}", t.addr());
    assert_eq!(ours.before, [want.clone(), want.clone()]);
    assert_eq!(theirs.before, [want.clone(), want]);
}

#[test]
fn stock_delay_lua() {
    let Some((ours, theirs, _t)) = both(&stock_script("delay.lua"), 2, 4, "/") else {
        return;
    };
    assert_ran(&ours, &theirs);
    // 4 connections, 10-50 ms apart: ~130 requests in a second either way.
    let (a, b) = (ours.requests as f64, theirs.requests as f64);
    assert!(a > b * 0.6 && a < b * 1.4, "ours {a} stock {b}");
}

#[test]
fn stock_post_auth_pipeline_lua_run() {
    for (name, path, all_404) in [
        ("post.lua", "/", false),
        ("auth.lua", "/", true),
        ("pipeline.lua", "/", false),
    ] {
        let Some((ours, theirs, _t)) = both(&stock_script(name), 2, 4, path) else {
            return;
        };
        assert_ran(&ours, &theirs);
        for r in [&ours, &theirs] {
            assert_eq!(r.non2xx == r.requests, all_404, "{name}: {}", r.out.stdout);
        }
    }
}

#[test]
fn golden_scripts_run() {
    for (name, path) in [
        ("post_json.lua", "/echo"),
        ("dynamic_counter.lua", "/"),
        ("pipeline3.lua", "/"),
    ] {
        let Some((ours, theirs, _t)) = both(name, 2, 4, path) else {
            return;
        };
        assert_ran(&ours, &theirs);
    }
}

/// Pipelining: responses per `request()` call relate the same way as stock's.
#[test]
fn pipeline_request_count_relation() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-lua-pipe").unwrap();
    let p = dir.path().join("pipe.lua");
    std::fs::write(
        &p,
        r#"
local threads = {}
function setup(t) table.insert(threads, t) end
function init()
  calls, responses = 0, 0
  batch = wrk.format(nil, "/?a") .. wrk.format(nil, "/?b") .. wrk.format(nil, "/?c")
end
function request() calls = calls + 1 return batch end
function response() responses = responses + 1 end
function done(summary, latency, requests)
  local c, r = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("calls") r = r + t:get("responses") end
  io.write(string.format("calls=%d responses=%d requests=%d\n", c, r, summary.requests))
end
"#,
    )
    .unwrap();
    let script = p.to_string_lossy().into_owned();
    let t = HttpTarget::start();
    let url = t.url("/");
    let args = ["-t2", "-c4", "-d1s", "-s", script.as_str(), url.as_str()];
    for bin in [OURS, wrk.to_str().unwrap()] {
        let r = analyse(run(bin, &args));
        let l = r.after.last().expect("done line").clone();
        let nums: Vec<u64> = l
            .split(' ')
            .map(|kv| kv.split('=').nth(1).unwrap().parse().unwrap())
            .collect();
        let (calls, responses, requests) = (nums[0], nums[1], nums[2]);
        assert_eq!(responses, requests, "{bin}: {l}");
        assert_eq!(requests, r.requests, "{bin}: {l}");
        // 3 responses per call, except the validation call and batches in flight at the end.
        assert!(responses <= 3 * calls, "{bin}: {l}");
        assert!(responses + 3 * (4 + 1) >= 3 * calls, "{bin}: {l}");
        assert!(responses > 0, "{bin}: {l}");
    }
}

/// `-R` (wrk2) mode: `wrk.time_us()` exists and done() gets HdrHistogram
/// stats objects whose `#` is the sample count.
#[test]
fn rate_mode_stats_objects() {
    let dir = testkit::tmp::TempDir::new("wrk-lua-rate").unwrap();
    let p = dir.path().join("rate.lua");
    std::fs::write(
        &p,
        r#"
function init() started = wrk.time_us() end
function done(summary, latency, requests)
  io.write(string.format("n=%d requests=%d time=%s p100max=%s\n", #latency, summary.requests,
    type(wrk.time_us()), tostring(p100_in_max_bucket(latency))))
end
-- wrk2 reports max as the lowest value of the top HdrHistogram bucket and
-- percentiles as the highest, so p100 is max or at most one bucket above it.
function p100_in_max_bucket(latency)
  local p100, max = latency:percentile(100), latency.max
  return p100 >= max and p100 <= max + max / 512 + 1
end
"#,
    )
    .unwrap();
    let script = p.to_string_lossy().into_owned();
    let t = HttpTarget::start();
    let url = t.url("/");
    let o = run(
        OURS,
        &["-t1", "-c2", "-d1s", "-R", "200", "-s", &script, &url],
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let last = o.stdout.lines().last().unwrap_or_default().to_string();
    let kv: Vec<&str> = last.split(' ').collect();
    assert_eq!(kv.len(), 4, "{}", o.stdout);
    let n: u64 = kv[0].strip_prefix("n=").unwrap().parse().unwrap();
    let req: u64 = kv[1].strip_prefix("requests=").unwrap().parse().unwrap();
    assert!(req > 100 && n <= req && n + 2 >= req, "{last}");
    assert_eq!(&kv[2..], ["time=number", "p100max=true"], "{last}");
    // Without -R there is no wrk.time_us (wrk 4.1.0 has none).
    std::fs::write(
        &p,
        "function done() io.write('time_us=', type(wrk.time_us), '\\n') end\n",
    )
    .unwrap();
    let o = run(OURS, &["-t1", "-c1", "-d1s", "-s", &script, &url]);
    assert!(o.stdout.ends_with("time_us=nil\n"), "{}", o.stdout);
}

/// `response(status, headers, body)` sees the same values under ours and stock.
#[test]
fn response_hook_arguments_match_stock() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-lua-resp").unwrap();
    let p = dir.path().join("resp.lua");
    std::fs::write(
        &p,
        r#"
wrk.method = "POST"
wrk.body = "ping-body"
local threads = {}
function setup(t) table.insert(threads, t) end
function response(status, headers, body)
  local names = {}
  for k in pairs(headers) do names[#names + 1] = k end
  table.sort(names)
  last = string.format("%s %d [%s] %s", type(status), status, table.concat(names, ","), body)
end
function done()
  for _, t in ipairs(threads) do io.write(t:get("last"), "\n") end
end
"#,
    )
    .unwrap();
    let script = p.to_string_lossy().into_owned();
    let t = HttpTarget::start();
    let url = t.url("/echo");
    let args = ["-t2", "-c2", "-d1s", "-s", script.as_str(), url.as_str()];
    let ours = analyse(run(OURS, &args));
    let theirs = analyse(run(wrk.to_str().unwrap(), &args));
    assert_ran(&ours, &theirs);
    assert_eq!(ours.after.len(), 2, "{}", ours.out.stdout);
    // Date values differ; names, status and body must not.
    assert_eq!(ours.after, theirs.after);
}

/// The first `request()` result is validated like wrk's http_parser: same
/// verdicts and `<error> at <line>:<column>` texts.
#[test]
fn request_validation_matches_stock() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-lua-verify").unwrap();
    let t = HttpTarget::start();
    let url = t.url("/");
    let cases = [
        r"get / HTTP/1.1\r\n\r\n",
        r"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
        r"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        r"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
        r"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
        r"GET /\1 HTTP/1.1\r\n\r\n",
        r"GET / HTTP/1.1\r\n: v\r\n\r\n",
        r"GET / HTTP/1.1\r\nX: a\127\r\n\r\n",
        r"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
        r"GET / HTTP/1.1\r\r\n",
        r"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        r"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        r"GET / HTTP/1000.1\r\n\r\n",
        r"GET / HTTP/1.1 \r\n\r\n",
        r"GET / XTTP/1.1\r\n\r\n",
        r"GET / HTTP/1.x\r\n\r\n",
        r"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        r"MKCOLX / HTTP/1.1\r\n\r\n",
        r"GET / HTTP/1.1\r\nHost: x\r\n",
        // valid ones (these run for a second)
        r"GET / HTTP/1.1\nHost: x\n\n",
        r"M-SEARCH * HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        r"GET http://h/x?y#z HTTP/1.1\r\n\r\nGET / HT",
    ];
    for (i, case) in cases.iter().enumerate() {
        let p = dir.path().join(format!("v{i}.lua"));
        std::fs::write(&p, format!("function request() return \"{case}\" end\n")).unwrap();
        let p = p.to_string_lossy().into_owned();
        let args = ["-t1", "-c1", "-d1s", "-s", p.as_str(), url.as_str()];
        let ours = run(OURS, &args);
        let theirs = run(wrk.to_str().unwrap(), &args);
        assert_eq!(ours.stderr, theirs.stderr, "{case}");
        assert_eq!(ours.code, theirs.code, "{case}");
    }
}

/// `wrk.lookup`/`wrk.connect` edge cases print the same under ours and stock.
#[test]
fn lookup_and_connect_edges_match_stock() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-lua-conn").unwrap();
    let p = dir.path().join("conn.lua");
    std::fs::write(
        &p,
        r#"
function setup(t)
  print(pcall(wrk.connect, nil))
  print(pcall(function() return wrk.connect(1) end))
  local a = wrk.lookup("127.0.0.1", "1")
  print(#a, tostring(a[1]), wrk.connect(a[1]), type(a[1]))
  print(tostring(t.addr), t.nothing, t[1], pcall(function() t.x = {} end))
  print(wrk.thread, wrk.scheme, wrk.host, wrk.path, type(wrk.port))
end
"#,
    )
    .unwrap();
    let script = p.to_string_lossy().into_owned();
    let t = HttpTarget::start();
    let url = t.url("/x?y=1");
    let args = ["-t1", "-c1", "-d1s", "-s", script.as_str(), url.as_str()];
    let ours = analyse(run(OURS, &args));
    let theirs = analyse(run(wrk.to_str().unwrap(), &args));
    assert_eq!(ours.before.len(), 5, "{}", ours.out.stdout);
    assert_eq!(ours.before, theirs.before);
}

/// Cost of a script that defines only `request()`, end to end against
/// nginx (ignored: a measurement, not a check). Run with
/// `cargo test --release -p wrk-rs --test lua script_overhead -- --ignored --nocapture`.
#[test]
#[ignore]
fn script_overhead() {
    let Some(n) = testkit::nginx::Nginx::start(Default::default()) else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-lua-cost").unwrap();
    let p = dir.path().join("req.lua");
    std::fs::write(&p, "function request() return wrk.request() end\n").unwrap();
    let script = p.to_string_lossy().into_owned();
    let url = n.http_url("/");
    let rate = |with: bool| -> f64 {
        let mut args = vec!["-t1", "-c10", "-d2s"];
        if with {
            args.extend(["-s", script.as_str()]);
        }
        args.push(url.as_str());
        let o = run(OURS, &args);
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let (mut plain, mut scripted) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        plain.push(rate(false));
        scripted.push(rate(true));
    }
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let (a, b) = (best(&plain), best(&scripted));
    println!(
        "no script {plain:?} req/s, request()-only {scripted:?} req/s; best {a:.0} vs {b:.0}: \
         {:.2} us/request extra",
        (1e6 / b - 1e6 / a)
    );
}

/// Golden 36: `wrk.method = "HEAD"` stalls stock on responses announcing a
/// body; ours completes them (a chosen difference, wrk-rs/README.md).
#[test]
fn golden_head_method_lua() {
    let Some((ours, theirs, _t)) = both("head_method.lua", 1, 2, "/") else {
        return;
    };
    // Stock stalls on a HEAD response that announces a body (spec §8 item 7);
    // ours ends such responses after their headers (wrk-rs/README.md).
    assert_eq!(theirs.requests, 0, "stock:\n{}", theirs.out.stdout);
    assert!(ours.requests > 0, "ours:\n{}", ours.out.stdout);
    assert!(
        !ours.out.stdout.contains("Socket errors"),
        "ours:\n{}",
        ours.out.stdout
    );
}

/// Prints from worker hooks share stdout with the report: before the
/// statistics table, once per thread (as under stock), and in ours as whole
/// lines. Stock's LuaJIT `print` writes the text and its newline in separate
/// calls, so two threads printing at once may share a line there
/// ("first responsefirst response", then an empty line): stock is checked
/// for the count and the place only.
#[test]
fn worker_prints_precede_the_report() {
    let Some(wrk) = stock::require("wrk") else {
        return;
    };
    let dir = testkit::tmp::TempDir::new("wrk-lua-print").unwrap();
    let p = dir.path().join("print.lua");
    std::fs::write(
        &p,
        "local first = true\nfunction response() if first then first = false print('first response') end end\n",
    )
    .unwrap();
    let script = p.to_string_lossy().into_owned();
    let t = HttpTarget::start();
    let url = t.url("/");
    let args = ["-t2", "-c2", "-d1s", "-s", script.as_str(), url.as_str()];
    for bin in [OURS, wrk.to_str().unwrap()] {
        let o = run(bin, &args);
        let lines: Vec<&str> = o.stdout.lines().collect();
        let table = lines
            .iter()
            .position(|l| l.starts_with("  Thread Stats"))
            .expect("table");
        let whole_lines = bin == OURS;
        let firsts: Vec<usize> = lines
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                let n = if whole_lines {
                    usize::from(*l == "first response")
                } else {
                    l.matches("first response").count()
                };
                std::iter::repeat_n(i, n)
            })
            .collect();
        assert_eq!(firsts.len(), 2, "{bin}:\n{}", o.stdout);
        assert!(firsts.iter().all(|&i| i < table), "{bin}:\n{}", o.stdout);
    }
}
