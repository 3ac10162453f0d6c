//! The two tables in the seed's shape.
//!
//! qperf: one row per message size (`1 B`, `64 B`, `4 KiB`, `256 KiB`); for
//! `tcp_bw` and then `tcp_lat` one column per target followed by the ratio
//! of each other target to the first. wrk: one row per metric (QPS,
//! transfer, average latency, socket errors), one column per target, then
//! the ratios. Figures are shown exactly as the tools printed them.

use std::io::{self, Write};
use std::path::Path;

use crate::results::{Cell, Results, WrkMetric, QPERF_TESTS};
use crate::sweep::size_label;

/// Renders the whole report.
pub fn render(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "# netbench results")?;
    writeln!(w)?;
    render_qperf(r, w)?;
    writeln!(w)?;
    render_wrk(r, w)?;
    writeln!(w)?;
    render_commands(r, w)?;
    render_workers(r, w)?;
    if !r.notes.is_empty() {
        writeln!(w)?;
        writeln!(w, "## Notes")?;
        writeln!(w)?;
        for n in &r.notes {
            writeln!(w, "- {n}")?;
        }
    }
    Ok(())
}

/// The per-worker tables of merged cells (nothing when there are none).
pub fn render_workers(r: &Results, w: &mut impl Write) -> io::Result<()> {
    if r.workers.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "## Workers")?;
    for rep in &r.workers {
        writeln!(w)?;
        writeln!(
            w,
            "### {} {}: one cell, merged from these generators",
            rep.target, rep.tool
        )?;
        writeln!(w)?;
        // A blank line ends the table before the skew line.
        write!(
            w,
            "{}",
            rep.table.replace("\nwindow skew:", "\n\nwindow skew:")
        )?;
        for p in &rep.problems {
            writeln!(w, "- {p}")?;
        }
    }
    Ok(())
}

/// The qperf table alone.
pub fn render_qperf(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "## qperf (tcp_bw, tcp_lat)")?;
    writeln!(w)?;
    let mut header = vec!["msg size".to_string()];
    for test in QPERF_TESTS {
        header.extend(group_header(r, test));
    }
    row(w, &header)?;
    separator(w, header.len())?;
    for &size in &r.msg_sizes {
        let mut cells = vec![size_label(size)];
        for test in QPERF_TESTS {
            let col: Vec<Cell> = r.targets.iter().map(|t| t.qperf_cell(test, size)).collect();
            cells.extend(group_cells(&col));
        }
        row(w, &cells)?;
    }
    Ok(())
}

/// The wrk table alone.
pub fn render_wrk(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "## wrk")?;
    writeln!(w)?;
    let mut header = vec!["metric".to_string()];
    header.extend(group_header(r, ""));
    row(w, &header)?;
    separator(w, header.len())?;
    for m in WrkMetric::ALL {
        let col: Vec<Cell> = r.targets.iter().map(|t| t.wrk_cell(m)).collect();
        let mut cells = vec![m.label().to_string()];
        cells.extend(group_cells(&col));
        row(w, &cells)?;
    }
    Ok(())
}

/// The command lines that produced the figures.
fn render_commands(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "## Commands")?;
    writeln!(w)?;
    for t in &r.targets {
        let outcomes = t
            .qperf
            .iter()
            .map(|q| &q.outcome)
            .chain(t.wrk.iter().map(|x| &x.outcome));
        for o in outcomes {
            let mut words = o.command.clone();
            if let Some(first) = words.first_mut() {
                if let Some(name) = Path::new(first.as_str()).file_name() {
                    *first = name.to_string_lossy().into_owned();
                }
            }
            writeln!(w, "- {}: `{}`", t.name, words.join(" "))?;
        }
    }
    Ok(())
}

/// `<test> <target>` per target, then `<test> <target>/<first>` per other target.
fn group_header(r: &Results, test: &str) -> Vec<String> {
    let prefix = if test.is_empty() {
        String::new()
    } else {
        format!("{test} ")
    };
    let mut h: Vec<String> = r
        .targets
        .iter()
        .map(|t| format!("{prefix}{}", t.name))
        .collect();
    if let Some(first) = r.targets.first() {
        h.extend(
            r.targets[1..]
                .iter()
                .map(|t| format!("{prefix}{}/{}", t.name, first.name)),
        );
    }
    h
}

/// Target cells, then the ratio of each other target to the first.
fn group_cells(col: &[Cell]) -> Vec<String> {
    let mut out: Vec<String> = col.iter().map(cell_text).collect();
    if let Some(first) = col.first() {
        out.extend(col[1..].iter().map(|c| ratio(first.value(), c.value())));
    }
    out
}

/// A cell as both layouts print it: the figure, `error: …` or `n/a`.
pub(super) fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Value(text, _) => text.clone(),
        Cell::Error(e) => format!("error: {e}"),
        Cell::NotConfigured => "n/a".into(),
    }
}

/// `other / first` with two decimals (four below 0.01), `-` when undefined.
pub fn ratio(first: Option<f64>, other: Option<f64>) -> String {
    match (first, other) {
        (Some(a), Some(b)) if a > 0.0 && a.is_finite() && b.is_finite() => {
            let r = b / a;
            if r != 0.0 && r < 0.01 {
                format!("{r:.4}")
            } else {
                format!("{r:.2}")
            }
        }
        _ => "-".into(),
    }
}

/// One table row, `|` and line breaks in cells escaped (both layouts).
pub(super) fn row(w: &mut impl Write, cells: &[String]) -> io::Result<()> {
    let escaped: Vec<String> = cells
        .iter()
        .map(|c| c.replace('|', "\\|").replace(['\n', '\r'], " "))
        .collect();
    writeln!(w, "| {} |", escaped.join(" | "))
}

/// The `|---|` line under a header of `n` cells.
pub(super) fn separator(w: &mut impl Write, n: usize) -> io::Result<()> {
    writeln!(w, "|{}", "---|".repeat(n))
}
