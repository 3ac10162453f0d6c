//! `netbench` binary: parse the arguments and hand over to [`netbench::app`].

use std::process::ExitCode;

use netbench::cli::{self, Command};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match cli::parse(&args) {
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            Ok(0)
        }
        Ok(Command::K8sHelp) => {
            print!("{}", netbench::k8s::USAGE);
            Ok(0)
        }
        Ok(Command::Merge(files)) => netbench::merge::run(&files),
        Ok(Command::K8s(a)) => netbench::k8s::run(a),
        Ok(Command::ServeHttp(addr)) => netbench::serve::serve(&addr).map(|()| 0),
        Ok(Command::Run(run)) => netbench::app::run(run),
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("netbench: {e}");
            ExitCode::from(2)
        }
    }
}
