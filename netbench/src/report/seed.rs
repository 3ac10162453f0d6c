//! `--layout seed`: the two tables as the runbook's own report lays them out.
//!
//! qperf: one row per message size labelled `1bytes`, `64bytes`, `4KiB`,
//! `256KiB`; one column per target, each cell holding that target's
//! `tcp_lat` and `tcp_bw`. wrk: one row per target with QPS, TPS
//! (Transfer/sec), Latency(avg) and the error counts `read N, write N,
//! timeout N` (`connect N, ` in front only when connects failed). Figures
//! are shown as the tools printed them; no ratios (the default layout has
//! them).

use std::io::{self, Write};

use super::markdown::{cell_text as text, row, separator};
use crate::results::{Cell, Results, TargetResult, WrkMetric};

/// Renders both tables.
pub fn render(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "# netbench results")?;
    writeln!(w)?;
    render_qperf(r, w)?;
    writeln!(w)?;
    render_wrk(r, w)?;
    super::markdown::render_workers(r, w)?;
    if !r.notes.is_empty() {
        writeln!(w)?;
        for n in &r.notes {
            writeln!(w, "- {n}")?;
        }
    }
    Ok(())
}

/// Row label of a size: `1bytes`, `64bytes`, `4KiB`, `256KiB`, `1MiB`.
pub fn size_label(bytes: u64) -> String {
    let mut v = bytes;
    let mut unit = "bytes";
    for u in ["KiB", "MiB", "GiB"] {
        if v >= 1024 && v.trailing_zeros() >= 10 {
            v /= 1024;
            unit = u;
        } else {
            break;
        }
    }
    format!("{v}{unit}")
}

/// The qperf table.
pub fn render_qperf(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "## qperf")?;
    writeln!(w)?;
    let mut header = vec!["msg_size".to_string()];
    header.extend(r.targets.iter().map(|t| t.name.clone()));
    row(w, &header)?;
    separator(w, header.len())?;
    for &size in &r.msg_sizes {
        let mut cells = vec![size_label(size)];
        for t in &r.targets {
            let lat = t.qperf_cell("tcp_lat", size);
            let bw = t.qperf_cell("tcp_bw", size);
            cells.push(match (&lat, &bw) {
                // One error for the whole cell when both failed alike.
                (Cell::Error(a), Cell::Error(b)) if a == b => text(&lat),
                (Cell::NotConfigured, Cell::NotConfigured) => "n/a".into(),
                _ => format!("tcp_lat {}, tcp_bw {}", text(&lat), text(&bw)),
            });
        }
        row(w, &cells)?;
    }
    Ok(())
}

/// The wrk table.
pub fn render_wrk(r: &Results, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "## wrk")?;
    writeln!(w)?;
    row(
        w,
        &[
            "target".into(),
            "QPS".into(),
            "TPS (Transfer/sec)".into(),
            "Latency(avg)".into(),
            "error".into(),
        ],
    )?;
    separator(w, 5)?;
    for t in &r.targets {
        row(w, &wrk_row(t))?;
    }
    Ok(())
}

fn wrk_row(t: &TargetResult) -> Vec<String> {
    let mut cells = vec![t.name.clone()];
    let Some(run) = &t.wrk else {
        cells.extend(["n/a", "n/a", "n/a", "n/a"].map(String::from));
        return cells;
    };
    let Some(report) = &run.report else {
        cells.extend(["-", "-", "-"].map(String::from));
        cells.push(format!("error: {}", run.error()));
        return cells;
    };
    for m in [WrkMetric::Qps, WrkMetric::Transfer, WrkMetric::AvgLatency] {
        cells.push(text(&run.cell(m)));
    }
    let e = report.socket_errors;
    let connect = if e.connect > 0 {
        format!("connect {}, ", e.connect)
    } else {
        String::new()
    };
    cells.push(format!(
        "{connect}read {}, write {}, timeout {}",
        e.read, e.write, e.timeout
    ));
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_labels() {
        let labels: Vec<String> = [1, 64, 4096, 262144, 1 << 20, 1536]
            .iter()
            .map(|b| size_label(*b))
            .collect();
        assert_eq!(
            labels,
            ["1bytes", "64bytes", "4KiB", "256KiB", "1MiB", "1536bytes"]
        );
    }
}
