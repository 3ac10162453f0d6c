//! The `qperf` binary: server mode when no client argument is given,
//! otherwise a client running the named tests (spec qperf.md §1).

use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};

use qperf_rs::cli::session::{self, End, Runner};
use qperf_rs::client::{self, ClientError, Outcome, Target};
use qperf_rs::ext::Extensions;
use qperf_rs::proto::Req;
use qperf_rs::{server, sys};

/// The real network and CPU pinning.
struct Live;

impl Runner for Live {
    fn run_test(
        &mut self,
        target: &Target,
        local: &Req,
        remote: &Req,
    ) -> Result<Outcome, ClientError> {
        client::run_test(target, local, remote)
    }

    fn run_test_ext(
        &mut self,
        target: &Target,
        local: &Req,
        remote: &Req,
        ext: Extensions,
    ) -> Result<Outcome, ClientError> {
        client::run_test_ext(target, local, remote, ext)
    }

    fn set_affinity(&mut self, cpu: u32) -> Result<(), String> {
        sys::pin_to(cpu).map_err(|e| sys::strerror(&e))
    }
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Like stock (C stdio): line-buffered on a terminal, fully buffered
    // otherwise; stderr unbuffered.
    let stdout = io::stdout().lock();
    let mut out: Box<dyn Write> = if io::stdout().is_terminal() {
        Box::new(LineWriter::new(stdout))
    } else {
        Box::new(BufWriter::with_capacity(4096, stdout))
    };
    let mut err = io::stderr();
    let end = session::run(&args, &mut Live, &mut out, &mut err);
    let _ = out.flush();
    drop(out);
    let code = match end {
        End::Exit(code) => code,
        End::Serve(cfg) => server::serve(&cfg),
    };
    std::process::exit(code);
}
