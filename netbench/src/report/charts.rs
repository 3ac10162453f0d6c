//! SVG charts with plotters: qperf bandwidth and latency against message
//! size (one line per target, both axes log-scaled so 1 B and 256 KiB both
//! show) and wrk QPS and average
//! latency (one bar per target). Cells without a figure are left out.

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::{Results, WrkMetric};

const SIZE: (u32, u32) = (800, 480);

type ChartResult = Result<String, String>;

/// Every chart: (file name, SVG text or error).
pub fn render_all(r: &Results) -> Vec<(&'static str, ChartResult)> {
    vec![
        (
            "qperf_bw.svg",
            lines(
                r,
                "tcp_bw",
                "qperf tcp_bw: bandwidth vs message size",
                "MB/sec",
                1e-6,
            ),
        ),
        (
            "qperf_lat.svg",
            lines(
                r,
                "tcp_lat",
                "qperf tcp_lat: latency vs message size",
                "us",
                1e6,
            ),
        ),
        (
            "wrk_qps.svg",
            bars(r, WrkMetric::Qps, "wrk: requests/sec", "requests/sec", 1.0),
        ),
        (
            "wrk_latency.svg",
            bars(r, WrkMetric::AvgLatency, "wrk: average latency", "ms", 1e3),
        ),
    ]
}

/// Line chart of one qperf test, values multiplied by `scale`.
fn lines(r: &Results, test: &str, title: &str, unit: &str, scale: f64) -> ChartResult {
    let series: Vec<(String, Vec<(f64, f64)>)> = r
        .targets
        .iter()
        .map(|t| {
            let pts = r
                .msg_sizes
                .iter()
                .filter(|s| **s > 0)
                .filter_map(|s| Some((*s as f64, t.qperf_cell(test, *s).value()? * scale)))
                .filter(|(_, y)| *y > 0.0 && y.is_finite())
                .collect();
            (t.name.clone(), pts)
        })
        .collect();
    let xs = r.msg_sizes.iter().filter(|s| **s > 0).map(|s| *s as f64);
    let (xmin, xmax) = xs.fold((f64::MAX, 0f64), |(a, b), x| (a.min(x), b.max(x)));
    let (xmin, xmax) = if xmax > 0.0 {
        (xmin * 0.7, xmax * 1.4)
    } else {
        (1.0, 10.0)
    };
    // Log value axis too: 1 B bandwidth is ~1e4 times below 256 KiB's, and
    // must not sit on the zero line.
    let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y));
    let ymax = max_or_one(ys());
    let ymin = ys()
        .filter(|y| *y > 0.0 && y.is_finite())
        .fold(ymax, f64::min);
    // Ticks at the swept sizes, labelled like the table rows.
    let ticks: Vec<f64> = r
        .msg_sizes
        .iter()
        .filter(|s| **s > 0)
        .map(|s| *s as f64)
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = frame(&root, title, 70)
            .build_cartesian_2d(
                (xmin..xmax).log_scale().with_key_points(ticks.clone()),
                (ymin / 2.0..ymax * 2.0).log_scale(),
            )
            .map_err(err)?;
        let y_desc = format!("{unit} (log scale)");
        chart
            .configure_mesh()
            .x_desc("message size (log scale)")
            .y_desc(y_desc.as_str())
            .x_label_formatter(&|x| crate::sweep::size_label(x.round() as u64))
            .draw()
            .map_err(err)?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Both charts' frame: caption, margin, label areas (`y_area` wide).
fn frame<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &'b str,
    y_area: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(y_area);
    b
}

/// Bar chart of one wrk metric per target, values multiplied by `scale`.
fn bars(r: &Results, m: WrkMetric, title: &str, unit: &str, scale: f64) -> ChartResult {
    let names: Vec<String> = r.targets.iter().map(|t| t.name.clone()).collect();
    let values: Vec<Option<f64>> = r
        .targets
        .iter()
        .map(|t| t.wrk_cell(m).value().map(|v| v * scale))
        .collect();
    let ymax = max_or_one(values.iter().flatten().copied());
    let n = names.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = frame(&root, title, 80)
            .build_cartesian_2d((0u32..n).into_segmented(), 0f64..ymax * 1.1)
            .map_err(err)?;
        let label = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(unit)
            .x_label_formatter(&label)
            .draw()
            .map_err(err)?;
        let bars = values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            let color = Palette99::pick(i).to_rgba();
            let (a, b) = (
                SegmentValue::Exact(i as u32),
                SegmentValue::Exact(i as u32 + 1),
            );
            let mut rect = Rectangle::new([(a, 0.0), (b, v)], color.filled());
            rect.set_margin(0, 0, 25, 25);
            Some(rect)
        });
        chart.draw_series(bars).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn max_or_one(vals: impl Iterator<Item = f64>) -> f64 {
    let m = vals.filter(|v| v.is_finite()).fold(0f64, f64::max);
    if m > 0.0 {
        m
    } else {
        1.0
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}
