//! Shared helpers of the qperf-rs integration tests: building REQs like the
//! stock client does, and running our server (in-process) or the stock one.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use qperf_rs::client::{self, Outcome, Target};
use qperf_rs::proto::Req;
use qperf_rs::server::{self, ServerConfig};
use qperf_rs::tests_table;
use testkit::proc::ChildGuard;

/// The REQ a stock client sends for `test` with `-t time` and defaults.
pub fn req(test: &str, time: u32) -> Req {
    let t = tests_table::find(test).expect("known test");
    Req {
        ver_maj: 0,
        ver_min: 4,
        ver_inc: 11,
        req_index: t.index(),
        msg_size: t.default_msg_size.unwrap_or(0),
        time,
        timeout: 5,
        ..Req::default()
    }
}

pub fn target(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        listen_port: port,
        wait_secs: 5,
        debug: false,
        single_port: false,
    }
}

/// Our server on a free port, in a thread of this process; stopped with
/// `quit` on drop.
pub struct OurServer {
    pub port: u16,
    thread: Option<JoinHandle<i32>>,
}

impl OurServer {
    pub fn start() -> OurServer {
        // Bound here, on a port the kernel picks: listening before the
        // thread starts, so no wait and no race for a "free" port.
        let listener = server::bind(0).expect("bind [::]:0");
        let port = listener.local_addr().expect("local address").port();
        let cfg = ServerConfig {
            listen_port: port,
            loc_timeout_secs: 5,
            debug: false,
        };
        let thread = std::thread::spawn(move || server::serve_on(&cfg, listener));
        OurServer {
            port,
            thread: Some(thread),
        }
    }

    /// Sends `quit` and waits for the server thread; returns its exit code.
    pub fn quit(mut self) -> i32 {
        self.stop()
    }

    fn stop(&mut self) -> i32 {
        let Some(t) = self.thread.take() else {
            return -1;
        };
        let q = req("quit", 2);
        match client::run_test(&target(self.port), &q, &q) {
            Ok(Outcome::Quit) => t.join().unwrap_or(-2),
            other => panic!("quit failed: {other:?}"),
        }
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.stop();
        }
    }
}

/// The stock server on a free port.
pub struct StockServer {
    pub port: u16,
    pub child: ChildGuard,
}

impl StockServer {
    pub fn start() -> Option<StockServer> {
        let qperf = testkit::stock::require("qperf")?;
        let port = testkit::ports::free_port();
        let mut child =
            ChildGuard::spawn(Command::new(qperf).args(["-lp", &port.to_string()])).ok()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        child.wait_for_port(addr, Duration::from_secs(5)).ok()?;
        Some(StockServer { port, child })
    }
}

/// Runs the stock client with `args`; returns (exit code, stdout, stderr).
pub fn stock_client(args: &[&str]) -> Option<(i32, String, String)> {
    let qperf = testkit::stock::require("qperf")?;
    let f = testkit::proc::run(Command::new(qperf).args(args), Duration::from_secs(30)).ok()?;
    Some((f.code().unwrap_or(-1), f.stdout_str(), f.stderr_str()))
}
