//! Aggregation of the per-thread results and the wrk 4.1.0 report
//! (spec §2.9, §3). Formatting itself lives in `common::wrk::report`.

use std::io::{self, Write};

use common::wrk::report::{render_summary, Errors, Row, Summary as Numbers};
use common::wrk::stats::Stats;

use crate::engine::ThreadResult;
use crate::script_api::Summary;

/// Everything summed or merged over the threads.
#[derive(Clone, Debug)]
pub struct Totals {
    pub complete: u64,
    pub bytes: u64,
    pub errors: Errors,
    /// Merged latency histogram (µs).
    pub latency: Stats,
    /// Merged Req/Sec samples.
    pub requests: Stats,
    pub runtime_us: u64,
}

/// Sums counters and merges the wrk histograms (the threads keep their
/// scripts and HdrHistograms for `done()` and the `-R` report).
pub fn merge(results: &[ThreadResult], runtime_us: u64) -> Totals {
    let mut errors = Errors::default();
    let (mut complete, mut bytes) = (0u64, 0u64);
    let limit =
        |f: fn(&ThreadResult) -> &Stats, dflt| results.first().map_or(dflt, |r| f(r).limit());
    let mut latency = Stats::new(limit(|r| &r.latency, 1));
    let mut requests = Stats::new(limit(|r| &r.requests, 10_000_000));
    for r in results {
        complete = complete.wrapping_add(r.complete);
        bytes = bytes.wrapping_add(r.bytes);
        errors.connect = errors.connect.wrapping_add(r.errors.connect);
        errors.read = errors.read.wrapping_add(r.errors.read);
        errors.write = errors.write.wrapping_add(r.errors.write);
        errors.status = errors.status.wrapping_add(r.errors.status);
        errors.timeout = errors.timeout.wrapping_add(r.errors.timeout);
        latency.merge(&r.latency);
        requests.merge(&r.requests);
    }
    Totals {
        complete,
        bytes,
        errors,
        latency,
        requests,
        runtime_us,
    }
}

/// wrk's post-run coordinated-omission correction (§2.9): only when every
/// requested connection completed at least one request on average.
pub fn correct(t: &mut Totals, connections: u64) {
    let per_conn = t.complete.checked_div(connections).unwrap_or(0);
    if let Some(interval) = t.runtime_us.checked_div(per_conn) {
        t.latency.correct(interval);
    }
}

/// The `summary` table of `done()`.
pub fn summary(t: &Totals) -> Summary {
    Summary {
        duration_us: t.runtime_us,
        requests: t.complete,
        bytes: t.bytes,
        connect: t.errors.connect,
        read: t.errors.read,
        write: t.errors.write,
        status: t.errors.status,
        timeout: t.errors.timeout,
    }
}

/// Renders `  Thread Stats ...` through `Transfer/sec:` for wrk mode.
pub fn render<W: Write>(w: &mut W, print_distribution: bool, t: &Totals) -> io::Result<()> {
    render_summary(w, &numbers(print_distribution, t))
}

/// The numbers wrk mode prints (also what `--json` reports).
pub fn numbers(print_distribution: bool, t: &Totals) -> Numbers {
    let l = &t.latency;
    Numbers {
        latency: Row::from_stats(l),
        requests: Row::from_stats(&t.requests),
        distribution: print_distribution.then(|| {
            [
                l.percentile(50.0),
                l.percentile(75.0),
                l.percentile(90.0),
                l.percentile(99.0),
            ]
        }),
        complete: t.complete,
        runtime_us: t.runtime_us,
        bytes: t.bytes,
        errors: t.errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correction_needs_one_request_per_connection() {
        let mut latency = Stats::new(2_000_001);
        latency.record(10_000);
        let mut t = Totals {
            complete: 9,
            bytes: 0,
            errors: Errors::default(),
            latency,
            requests: Stats::new(10),
            runtime_us: 1_000_000,
        };
        correct(&mut t, 10);
        assert_eq!(t.latency.count(), 1);
        t.complete = 10;
        // interval = 1 s / 1 = 1e6 > max: nothing added.
        correct(&mut t, 10);
        assert_eq!(t.latency.count(), 1);
        t.complete = 1000;
        // interval = 1e6 / 100 = 10_000: 10_000 → nothing below 2×interval.
        t.latency.record(30_000);
        correct(&mut t, 10);
        // 30_000 adds 20_000 (10_000 is not > interval).
        assert_eq!(t.latency.count(), 3);
    }
}
