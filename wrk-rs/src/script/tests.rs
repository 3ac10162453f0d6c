//! Unit tests of the Lua layer without the engine: states, hooks, the wrk
//! table, thread objects, stats objects and error texts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlua::{AnyUserData, Table};

use super::values::lua_number_text;
use super::*;
use crate::script_api::{ScriptShape, Summary, ThreadScript};
use thread::{ThreadObj, ThreadShared};

fn script_file(text: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("wrk-rs-lua-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("s{}.lua", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn env() -> ScriptEnv {
    ScriptEnv {
        scheme: "http".into(),
        host: "127.0.0.1".into(),
        port: "8089".into(),
        method: "GET".into(),
        path: "/small.txt".into(),
        headers: vec![],
        body: None,
        args: vec!["http://127.0.0.1:8089/small.txt".into(), "extra1".into()],
        rate_mode: false,
    }
}

fn main_for(path: &str, env: &ScriptEnv) -> LuaMain {
    LuaMain::new(new_state(path, env).unwrap(), path, env)
}

fn addr() -> SocketAddr {
    "127.0.0.1:8089".parse().unwrap()
}

fn golden(name: &str) -> String {
    format!("{}/../compat/golden/wrk/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn global<T: mlua::FromLua>(m: &LuaMain, name: &str) -> T {
    m.lua.globals().get(name).unwrap()
}

fn request_of(t: &mut Box<dyn ThreadScript>) -> String {
    let mut out = Vec::new();
    t.request(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn default_request_has_host_with_port() {
    let p = script_file("-- nothing");
    let mut m = main_for(&p, &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    let shape = t.validate().unwrap();
    assert_eq!(
        shape,
        ScriptShape {
            pipeline: 1,
            dynamic: false,
            delay: false,
            response: false
        }
    );
    assert_eq!(
        request_of(&mut t),
        "GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1:8089\r\n\r\n"
    );
}

#[test]
fn ipv6_host_is_bracketed_and_port_nil() {
    let p = script_file("function init() port_type = type(wrk.port) end");
    let mut e = env();
    e.host = "::1".into();
    e.port = String::new();
    let mut m = main_for(&p, &e);
    let mut t = m.create_thread(0, addr()).unwrap();
    assert_eq!(
        request_of(&mut t),
        "GET /small.txt HTTP/1.1\r\nHost: [::1]\r\n\r\n"
    );
    let obj: AnyUserData = m
        .lua
        .create_userdata(ThreadObj {
            shared: ThreadShared::new(addr()),
            remote: None,
        })
        .unwrap();
    drop(obj);
}

#[test]
fn post_script_sets_method_body_and_length() {
    let mut m = main_for(&golden("post_json.lua"), &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    assert_eq!(t.validate().unwrap().pipeline, 1);
    let r = request_of(&mut t);
    assert!(r.starts_with("POST /small.txt HTTP/1.1\r\n"), "{r}");
    assert!(r.contains("\r\nContent-Length: 20\r\n"), "{r}");
    assert!(r.contains("\r\nContent-Type: application/json\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\n{\"name\":\"wrk\",\"n\":1}"), "{r}");
}

#[test]
fn pipeline_depth_and_dynamic() {
    let mut m = main_for(&golden("pipeline3.lua"), &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    let s = t.validate().unwrap();
    assert_eq!((s.pipeline, s.dynamic), (3, true));
    assert_eq!(request_of(&mut t).matches("HTTP/1.1\r\n").count(), 3);
}

#[test]
fn validation_call_counts_on_thread_zero() {
    let mut m = main_for(&golden("dynamic_counter.lua"), &env());
    let mut t0 = m.create_thread(0, addr()).unwrap();
    let mut t1 = m.create_thread(1, addr()).unwrap();
    t0.validate().unwrap();
    assert!(request_of(&mut t0).starts_with("GET /small.txt?n=2 "));
    assert!(request_of(&mut t1).starts_with("GET /small.txt?n=1 "));
}

#[test]
fn bad_method_fails_validation() {
    let mut m = main_for(&golden("bad_method.lua"), &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    let e = t.validate().unwrap_err();
    assert_eq!(
        e,
        ScriptFailure {
            message: "invalid HTTP method at 1:1".into(),
            exit_code: 1
        }
    );
}

#[test]
fn init_error_is_a_panic() {
    let p = golden("init_error.lua");
    let mut m = main_for(&p, &env());
    let e = m.create_thread(0, addr()).err().unwrap();
    assert_eq!(
        e.message,
        format!("PANIC: unprotected error in call to Lua API ({p}:2: failing on purpose)")
    );
    assert_eq!(e.exit_code, 1);
}

#[test]
fn syntax_error_and_missing_file_keep_defaults() {
    for p in [golden("syntax_error.lua"), "does_not_exist.lua".to_string()] {
        let mut m = main_for(&p, &env());
        let mut t = m.create_thread(0, addr()).unwrap();
        assert_eq!(t.validate().unwrap().pipeline, 1);
        assert!(request_of(&mut t).starts_with("GET /small.txt HTTP/1.1"));
    }
}

#[test]
fn top_level_effects_before_an_error_stay() {
    let p = script_file("wrk.method = 'POST'\nerror('boom')\n");
    let mut m = main_for(&p, &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    assert!(request_of(&mut t).starts_with("POST "));
}

#[test]
fn init_args_and_thread_objects() {
    let p = script_file(
        r#"
        local n = 0
        threads = {}
        function setup(thread)
          n = n + 1
          thread:set("id", n)
          thread:set("tbl", { a = "x", 5, nested = { k = true } })
          threads[n] = thread
          unknown = thread.foo
          addr_text = tostring(thread.addr)
        end
        function init(args)
          got_args = args[0] .. "|" .. args[1] .. "|" .. #args
          own_addr = tostring(wrk.thread.addr)
          seen = tbl.a .. tbl[1] .. tostring(tbl.nested.k)
        end
        function done(summary, latency, requests)
          results = {}
          for i, t in ipairs(threads) do
            results[i] = t:get("id") .. ":" .. t:get("got_args") .. ":" .. t:get("seen")
          end
        end
    "#,
    );
    let mut m = main_for(&p, &env());
    let t0 = m.create_thread(0, addr()).unwrap();
    let t1 = m.create_thread(1, "[::1]:9".parse().unwrap()).unwrap();
    assert_eq!(global::<String>(&m, "unknown"), "foo");
    // wrk.setup assigns wrk.addrs[1] to every thread before the user's setup().
    assert_eq!(global::<String>(&m, "addr_text"), "127.0.0.1:8089");
    assert_eq!(t1.addr(), addr());
    drop((t0, t1));
    assert!(m.has_done());
    let s = common::wrk::stats::Stats::new(100);
    m.done(&Summary::default(), &s, &s).unwrap();
    let r: Table = global(&m, "results");
    let expect = "http://127.0.0.1:8089/small.txt|extra1|1:x5true";
    assert_eq!(r.get::<String>(1).unwrap(), format!("1:{expect}"));
    assert_eq!(r.get::<String>(2).unwrap(), format!("2:{expect}"));
}

#[test]
fn setup_can_change_the_address() {
    let p = script_file(
        "function setup(t) local a = wrk.lookup('127.0.0.1', '4242'); t.addr = a[1] end",
    );
    let mut m = main_for(&p, &env());
    let t = m.create_thread(0, addr()).unwrap();
    assert_eq!(t.addr(), "127.0.0.1:4242".parse().unwrap());
}

#[test]
fn thread_errors_match_wrk() {
    let cases = [
        (
            "function setup(t) t.foo = 1 end",
            "cannot set 'number' on thread",
        ),
        (
            "function setup(t) t.addr = 1 end",
            "bad argument #4 to '__newindex' (wrk.addr expected, got number)",
        ),
        (
            "function setup(t) t:set('f', print) end",
            "cannot transfer 'function' to thread",
        ),
    ];
    for (text, msg) in cases {
        let p = script_file(text);
        let mut m = main_for(&p, &env());
        let e = m.create_thread(0, addr()).err().unwrap();
        assert_eq!(
            e.message,
            format!("PANIC: unprotected error in call to Lua API ({p}:1: {msg})"),
            "{text}"
        );
    }
}

#[test]
fn lookup_failure_is_not_a_panic() {
    let p = script_file("function setup(t) wrk.lookup('127.0.0.1', 'no-such-service-x') end");
    let mut m = main_for(&p, &env());
    let e = m.create_thread(0, addr()).err().unwrap();
    assert!(
        e.message
            .starts_with("unable to resolve 127.0.0.1:no-such-service-x "),
        "{}",
        e.message
    );
    assert_eq!(e.exit_code, 1);
}

#[test]
fn resolve_probes_and_reports_refusal() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let p = script_file("");
    let mut m = main_for(&p, &env());
    assert_eq!(
        m.resolve("127.0.0.1", &port).unwrap(),
        vec![l.local_addr().unwrap()]
    );
    drop(l);
    let e = m.resolve("127.0.0.1", &port).unwrap_err();
    assert_eq!(
        e.message,
        format!("unable to connect to 127.0.0.1:{port} Connection refused")
    );
}

#[test]
fn stop_delay_and_response_hooks() {
    let p = script_file(
        r#"
        function delay() return 12.9 end
        function response(status, headers, body)
          last = status .. " " .. headers["X-A"] .. " " .. body
          wrk.thread:stop()
        end
    "#,
    );
    let mut m = main_for(&p, &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    let s = t.validate().unwrap();
    assert!(s.delay && s.response && !s.dynamic);
    assert_eq!(t.delay().unwrap(), 12);
    assert!(!t.stop_requested());
    t.response(200, &[(b"X-A", b"1"), (b"X-A", b"2")], b"hi")
        .unwrap();
    assert!(t.stop_requested());
}

#[test]
fn stop_before_the_run_is_ignored() {
    let p = script_file("function setup(t) t:stop() end function init() wrk.thread:stop() end");
    let mut m = main_for(&p, &env());
    let t = m.create_thread(0, addr()).unwrap();
    assert!(!t.stop_requested());
}

#[test]
fn delay_conversion() {
    assert_eq!(delay_ms(10.7), 10);
    assert_eq!(delay_ms(-0.5), 0);
    assert_eq!(delay_ms(-5.0), MAX_DELAY_MS);
    assert_eq!(delay_ms(f64::NAN), 0);
}

fn stats_of(values: &[u64]) -> common::wrk::stats::Stats {
    let mut s = common::wrk::stats::Stats::new(10_000);
    for &v in values {
        s.record(v);
    }
    s
}

#[test]
fn stats_rules_by_hand() {
    // 10, 20, 20, 30: rank(p) = round(p/100*4 + 0.5).
    let s = stats_of(&[10, 20, 20, 30]);
    assert_eq!(percentile(&s, 0.0), 10); // rank 1
    assert_eq!(percentile(&s, 50.0), 20); // rank 3 (2.5 rounds away from zero)
    assert_eq!(percentile(&s, 75.0), 30); // rank round(3.5) = 4
    assert_eq!(percentile(&s, 100.0), 0); // rank 5 never reached
    assert_eq!(percentile(&s, 250.0), 0);
    assert_eq!(percentile(&s, -10.0), 10); // rank round(0.1) = 0: first value
    assert_eq!(percentile(&s, -50.0), 0); // negative rank wraps in C: never reached
    assert_eq!(percentile(&s, f64::NAN), 0);
    assert_eq!(call_index(&s, 1.0), (10, 1));
    assert_eq!(call_index(&s, 2.0), (20, 2));
    assert_eq!(call_index(&s, 3.0), (30, 1));
    // Out of range: 0 and the distinct count, as wrk's loop leaves it.
    assert_eq!(call_index(&s, 0.0), (0, 3));
    assert_eq!(call_index(&s, 4.0), (0, 3));
    let empty = stats_of(&[]);
    assert_eq!(percentile(&empty, 50.0), 0);
    assert_eq!(call_index(&empty, 1.0), (0, 0));
}

#[test]
fn stats_objects_in_lua() {
    let p = script_file(
        r#"
        function done(summary, latency, requests)
          local v, c = latency(2)
          local z, n = latency(0)
          out = table.concat({
            latency.min, latency.max, latency.mean, string.format("%.4f", latency.stdev),
            #latency, latency:percentile(50), latency:percentile(100), latency:percentile(0),
            v, c, z, n, type(latency[1]), latency[1], latency.foo,
            summary.duration, summary.requests, summary.bytes, summary.errors.timeout,
            requests.min, #requests,
          }, ",")
        end
    "#,
    );
    let mut m = main_for(&p, &env());
    let lat = stats_of(&[10, 20, 20, 30]);
    let req = stats_of(&[]);
    let sum = Summary {
        duration_us: 2_002_059,
        requests: 4,
        bytes: 1000,
        timeout: 7,
        ..Summary::default()
    };
    m.done(&sum, &lat, &req).unwrap();
    assert_eq!(
        global::<String>(&m, "out"),
        "10,30,20,8.1650,3,20,0,10,20,2,0,3,string,1,foo,2002059,4,1000,7,1.844674407371e+19,0"
    );
}

#[test]
fn hdr_stats_objects_in_lua() {
    let p = script_file(
        r#"
        function done(summary, latency, requests)
          out = table.concat({ #latency, latency.min, latency.max, latency:percentile(100),
            latency[2], latency.foo, type(wrk.time_us()) }, ",")
        end
    "#,
    );
    let mut e = env();
    e.rate_mode = true;
    let mut m = main_for(&p, &e);
    let mut r = common::hdr::Recorder::new();
    for v in [100, 200, 300, 400] {
        r.record(v);
    }
    m.done_hdr(&Summary::default(), &r, &common::hdr::Recorder::new())
        .unwrap();
    assert_eq!(global::<String>(&m, "out"), "4,100,400,400,200,foo,number");
}

#[test]
fn hdr_stats_follow_wrk2_c_histogram_digits() {
    // 2995 µs lies in a 2-wide bucket (2994..=2995): wrk2 reports the max as
    // the bucket's lowest value and percentiles as its highest.
    let p = script_file(
        r#"
        function done(summary, latency, requests)
          out = table.concat({ latency.max, latency:percentile(100), latency:percentile(50),
            latency.mean }, ",")
        end
    "#,
    );
    let mut e = env();
    e.rate_mode = true;
    let mut m = main_for(&p, &e);
    let mut r = common::hdr::Recorder::new();
    for v in [1000, 2995] {
        r.record(v);
    }
    m.done_hdr(&Summary::default(), &r, &common::hdr::Recorder::new())
        .unwrap();
    assert_eq!(global::<String>(&m, "out"), "2994,2995,1000,1997.5");
}

#[test]
fn done_error_is_a_panic() {
    let p = script_file("function done() error('late', 0) end");
    let mut m = main_for(&p, &env());
    let s = stats_of(&[]);
    let e = m.done(&Summary::default(), &s, &s).unwrap_err();
    assert_eq!(
        e.message,
        "PANIC: unprotected error in call to Lua API (late)"
    );
}

#[test]
fn luajit_libraries_present() {
    let p = script_file(
        "has = (bit ~= nil) and (jit ~= nil) and (ffi ~= nil or require('ffi') ~= nil)",
    );
    let m = main_for(&p, &env());
    assert!(global::<bool>(&m, "has"));
    assert_eq!(global::<String>(&m, "_VERSION"), "Lua 5.1");
}

#[test]
fn number_text_is_lua_like() {
    assert_eq!(lua_number_text(1.0), "1");
    assert_eq!(lua_number_text(0.1), "0.1");
    assert_eq!(lua_number_text(1.8446744073709552e19), "1.844674407371e+19");
}

#[test]
fn nested_and_cyclic_tables_transfer_sensibly() {
    // wrk segfaults on nested tables; we copy them, and refuse cycles.
    let p = script_file(
        r#"
        function setup(t)
          t:set("deep", { a = { b = { c = "d" } }, list = { 1, 2, 3 } })
          local cyc = {}
          cyc.self = cyc
          ok, err = pcall(function() t:set("cyc", cyc) end)
          ok2 = pcall(function() return t:get("wrk") end)
          thread = t
        end
        function init() got = deep.a.b.c .. #deep.list end
        function done() result = thread:get("got") end
    "#,
    );
    let mut m = main_for(&p, &env());
    let _t = m.create_thread(0, addr()).unwrap();
    assert!(!global::<bool>(&m, "ok"));
    assert!(global::<String>(&m, "err").contains("cannot transfer 'table' to thread"));
    assert!(!global::<bool>(&m, "ok2"));
    let s = stats_of(&[]);
    m.done(&Summary::default(), &s, &s).unwrap();
    assert_eq!(global::<String>(&m, "result"), "d3");
}

/// Per-call cost of the hooks (run: cargo test --release -p wrk-rs --lib hook_cost -- --ignored --nocapture).
#[test]
#[ignore]
fn hook_cost() {
    let p =
        script_file("function request() return wrk.request() end\nfunction response(s, h, b) end");
    let mut m = main_for(&p, &env());
    let mut t = m.create_thread(0, addr()).unwrap();
    t.validate().unwrap();
    let mut out = Vec::with_capacity(256);
    let n = 1_000_000u32;
    let start = std::time::Instant::now();
    for _ in 0..n {
        t.request(&mut out).unwrap();
    }
    let req_ns = start.elapsed().as_nanos() as f64 / f64::from(n);
    let headers: [(&[u8], &[u8]); 3] = [
        (b"Server", b"x"),
        (b"Content-Length", b"5"),
        (b"Date", b"now"),
    ];
    let start = std::time::Instant::now();
    for _ in 0..n {
        t.response(200, &headers, b"hello").unwrap();
    }
    let resp_ns = start.elapsed().as_nanos() as f64 / f64::from(n);
    println!("request(): {req_ns:.0} ns/call, response() with 3 headers: {resp_ns:.0} ns/call");
}
