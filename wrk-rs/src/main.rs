//! `wrk` binary: parse the command line, run, exit with wrk's status.

use wrk_rs::cli::{self, Parsed};

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = {
        let mut out = std::io::stdout();
        let mut err = std::io::stderr();
        match cli::parse(&argv, &mut out, &mut err) {
            Parsed::Exit(code) => code,
            Parsed::Run(cfg) => wrk_rs::run::run(&cfg),
        }
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
