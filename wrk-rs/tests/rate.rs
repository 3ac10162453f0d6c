//! `-R` (wrk2 mode) proofs: the HdrHistogram blocks of golden wrk2-03/04
//! rebuilt from a histogram, and live runs of our `wrk -R` against the test
//! kit's stalling server.

mod golden {
    use common::hdr::Recorder;
    use common::wrk::report::Errors;
    use common::wrk2::report::{render, Distribution, Model, Row, RECORDED, UNCORRECTED};

    fn golden(file: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../compat/golden/wrk/");
        std::fs::read_to_string(format!("{path}{file}")).expect("golden file")
    }

    /// The distribution blocks of a wrk2 output, header line through dashes.
    fn blocks(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Option<String> = None;
        for line in text.split_inclusive('\n') {
            if line.starts_with("  Latency Distribution (HdrHistogram") {
                cur = Some(String::new());
            }
            if let Some(b) = cur.as_mut() {
                b.push_str(line);
                if line.starts_with("-----") {
                    out.extend(cur.take());
                }
            }
        }
        out
    }

    /// A histogram holding, at each spectrum row's value, the count added
    /// since the previous row: every bucket the spectrum shows, exactly.
    fn rebuild(block: &str) -> Recorder {
        let mut r = Recorder::new();
        let mut prev = 0u64;
        for line in block.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() != 4 || line.starts_with('#') {
                continue;
            }
            let (Ok(ms), Ok(total)) = (cols[0].parse::<f64>(), cols[2].parse::<u64>()) else {
                continue;
            };
            let us = (ms * 1000.0).round() as u64;
            for _ in prev..total {
                r.record(us);
            }
            prev = total;
        }
        r
    }

    fn rendered_blocks(ds: Vec<Distribution>) -> Vec<String> {
        let m = Model {
            calibration: vec![],
            latency: Row::default(),
            requests: Row::default(),
            distributions: ds,
            complete: 1,
            runtime_us: 1_000_000,
            bytes: 1,
            errors: Errors::default(),
        };
        let mut out = Vec::new();
        render(&mut out, &m).unwrap();
        blocks(&String::from_utf8(out).unwrap())
    }

    /// Everything except the 8 percentile lines and the `#[Mean` line: those
    /// need buckets (and exact values inside them) that the spectrum does not
    /// show, so a histogram rebuilt from the spectrum cannot reproduce them.
    fn spectrum_part(b: &str) -> String {
        b.split_inclusive('\n')
            .filter(|l| !l.starts_with("#[Mean") && !l.trim_end().ends_with("s"))
            .collect()
    }

    /// Spectrum points (µs value, cumulative count), duplicates removed.
    fn points(block: &str) -> Vec<(u64, u64)> {
        let mut pts: Vec<(u64, u64)> = Vec::new();
        for line in block.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() != 4 {
                continue;
            }
            if let (Ok(ms), Ok(total)) = (cols[0].parse::<f64>(), cols[2].parse::<u64>()) {
                let p = ((ms * 1000.0).round() as u64, total);
                if pts.last() != Some(&p) {
                    pts.push(p);
                }
            }
        }
        pts
    }

    /// Percentile lines whose bucket the spectrum pins down (the rank falls
    /// on a spectrum step of exactly one sample) must match byte for byte —
    /// this covers the x87 rounding of e.g. 2995 µs → `2.99ms`.
    fn check_pinned_percentiles(got: &str, want: &str) -> usize {
        let pts = points(want);
        let total = pts.last().map_or(0, |p| p.1);
        let lines = |b: &str| -> Vec<String> {
            b.lines()
                .filter(|l| l.contains('%') && l.trim_end().ends_with('s'))
                .map(str::to_string)
                .collect()
        };
        let (g, w) = (lines(got), lines(want));
        assert_eq!(g.len(), 8);
        assert_eq!(w.len(), 8);
        let mut checked = 0;
        for (gl, wl) in g.iter().zip(&w) {
            let p: f64 = wl.split('%').next().unwrap().trim().parse().unwrap();
            let rank = (((p / 100.0) * total as f64 + 0.5) as u64).max(1);
            let pinned = pts
                .windows(2)
                .any(|x| x[1].1 == x[0].1 + 1 && x[1].1 == rank);
            if pinned {
                assert_eq!(gl, wl);
                checked += 1;
            }
        }
        checked
    }

    fn check(file: &str) {
        let text = golden(file);
        let want = blocks(&text);
        assert!(!want.is_empty(), "{file}: no blocks");
        let labels = [RECORDED, UNCORRECTED];
        let ds = want
            .iter()
            .zip(labels)
            .map(|(b, label)| Distribution::from_recorder(label, &rebuild(b)))
            .collect();
        let got = rendered_blocks(ds);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(spectrum_part(g), spectrum_part(w), "{file}");
            assert!(spectrum_part(g).lines().count() > 60);
            assert!(g.contains("#[Mean    = "));
            assert!(check_pinned_percentiles(g, w) >= 2, "{file}");
        }
    }

    #[test]
    fn wrk2_03_hdr_block_from_rebuilt_histogram() {
        check("wrk2-03-short-run-latency.stdout");
    }

    #[test]
    fn wrk2_04_hdr_blocks_from_rebuilt_histograms() {
        check("wrk2-04-calibrated-run-u_latency.stdout");
    }
}
