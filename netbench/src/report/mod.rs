//! Output files: the Markdown tables ([`markdown`], or [`seed`] with
//! `--layout seed`), the JSON of every raw
//! figure ([`json`]) and the SVG charts ([`charts`]). Renderers take the
//! [`Results`](crate::results::Results) model and write into `impl Write` or
//! return data; [`write_all`] is the only place that touches the disk.

pub mod charts;
pub mod json;
pub mod markdown;
pub mod seed;

use std::path::{Path, PathBuf};

use crate::results::Results;

/// Markdown file name in the output directory.
pub const MARKDOWN: &str = "report.md";
/// JSON file name.
pub const JSON: &str = "results.json";

/// How the tables are laid out (`--layout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Row per size / metric, column per target, then ratios.
    #[default]
    Default,
    /// The runbook's report: `tcp_lat, tcp_bw` per cell; a wrk row per target.
    Seed,
}

impl Layout {
    /// Parses `--layout` values.
    pub fn parse(s: &str) -> Result<Layout, String> {
        match s {
            "default" => Ok(Layout::Default),
            "seed" => Ok(Layout::Seed),
            _ => Err(format!("--layout: expected default or seed, got {s:?}")),
        }
    }
}

/// The tables in `layout`.
pub fn render_tables(
    results: &Results,
    layout: Layout,
    w: &mut impl std::io::Write,
) -> std::io::Result<()> {
    match layout {
        Layout::Default => markdown::render(results, w),
        Layout::Seed => seed::render(results, w),
    }
}

/// Writes every output file into `dir` (created if needed); returns the
/// paths written. Chart failures are reported but do not lose the tables.
pub fn write_all(results: &Results, dir: &Path) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    write_all_as(results, dir, Layout::Default)
}

/// [`write_all`] with `report.md` in `layout`.
pub fn write_all_as(
    results: &Results,
    dir: &Path,
    layout: Layout,
) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut md = Vec::new();
    render_tables(results, layout, &mut md).map_err(|e| e.to_string())?;
    let save = |name: &str, bytes: &[u8], written: &mut Vec<PathBuf>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        written.push(p);
        Ok::<(), String>(())
    };
    save(MARKDOWN, &md, &mut written)?;
    save(JSON, json::render(results).as_bytes(), &mut written)?;
    let mut problems = Vec::new();
    for (name, svg) in charts::render_all(results) {
        match svg {
            Ok(svg) => save(name, svg.as_bytes(), &mut written)?,
            Err(e) => problems.push(format!("chart {name}: {e}")),
        }
    }
    Ok((written, problems))
}
