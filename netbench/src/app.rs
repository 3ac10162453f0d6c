//! One benchmark run from parsed arguments: find the tools, build the plan
//! (targets file or embedded local targets), run, stop the local servers,
//! write the output files and print the tables.

use std::io::Write;
use std::path::Path;

use crate::bench::{self, Planned};
use crate::cli::RunArgs;
use crate::config;
use crate::local;
use crate::progress::Progress;
use crate::report;
use crate::settings::Settings;
use crate::sys;
use crate::tools;

/// Exit status after Ctrl-C (128 + SIGINT, like a shell).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Runs the benchmark; returns the exit status or a fatal error message.
pub fn run(args: RunArgs) -> Result<i32, String> {
    sys::install_interrupt_handler();
    let tools = tools::locate(args.qperf.clone(), args.wrk.clone())?;
    let mut notes = Vec::new();
    if args.wrk_workers > 1 {
        notes.push(format!(
            "wrk ran as {} processes per target, each with the table's command line, started \
             together (--start-at) and merged (histograms and counters added): the cell is their \
             sum, the Workers section shows each one and the skew of their windows",
            args.wrk_workers
        ));
    }
    let mut local_targets = None;
    let plan: Vec<Planned> = match &args.targets_file {
        Some(file) => {
            let origin = file.display().to_string();
            let text = std::fs::read_to_string(file).map_err(|e| format!("{origin}: {e}"))?;
            let tf = config::parse(&text, &origin).map_err(|e| e.to_string())?;
            let base = Settings::seed().with(&tf.defaults);
            tf.targets
                .into_iter()
                .map(|t| Planned {
                    settings: base.clone().with(&t.overrides).with(&args.overrides),
                    target: t,
                })
                .collect()
        }
        None => {
            let local = local::start(&tools, !args.no_netns)?;
            for line in local.describe().iter().chain(&local.notes) {
                eprintln!("netbench: {line}");
            }
            notes.extend(local.notes.iter().cloned());
            let base = if args.seed {
                Settings::seed()
            } else {
                Settings::short()
            };
            let plan = local
                .targets
                .iter()
                .map(|t| Planned {
                    settings: base.clone().with(&args.overrides),
                    target: t.clone(),
                })
                .collect();
            local_targets = Some(local);
            plan
        }
    };
    let results = bench::run(
        &plan,
        &tools,
        notes,
        args.wrk_workers,
        &mut Progress::auto(),
    );
    drop(local_targets); // stop servers and delete the namespace now
    let (written, problems) = report::write_all_as(&results, &args.out, args.layout)?;
    print_tables(&results, args.layout);
    for p in problems {
        eprintln!("netbench: {p}");
    }
    eprintln!("netbench: wrote {}", list(&written));
    Ok(if sys::interrupted() {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

fn print_tables(results: &crate::results::Results, layout: report::Layout) {
    let mut out = std::io::stdout().lock();
    let mut md = Vec::new();
    if report::render_tables(results, layout, &mut md).is_ok() {
        // A closed stdout (e.g. `| head`) is not an error: files are written.
        let _ = out.write_all(&md);
        let _ = out.flush();
    }
}

fn list(paths: &[impl AsRef<Path>]) -> String {
    paths
        .iter()
        .map(|p| p.as_ref().display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
