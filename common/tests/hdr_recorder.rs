//! HdrHistogram recorder: wrk2 geometry, lossless merge, spectrum shape.

use common::hdr::Recorder;
use common::wrk2::report::{Distribution, RECORDED};

#[test]
fn merge_is_lossless_and_spectrum_is_cumulative() {
    let mut a = Recorder::new();
    let mut b = Recorder::new();
    let mut all = Recorder::new();
    for v in 1..=3000u64 {
        let r = if v % 2 == 0 { &mut a } else { &mut b };
        r.record(v * 7);
        all.record(v * 7);
    }
    a.merge(&b);
    assert_eq!(a.count(), 3000);
    assert_eq!(a.max(), all.max());
    assert_eq!(a.percentile(99.0), all.percentile(99.0));
    assert_eq!(a.mean(), all.mean());
    let spec = a.spectrum();
    assert_eq!(spec.first().map(|r| r.total_count), Some(1));
    let last = spec.last().unwrap();
    assert_eq!(last.total_count, 3000);
    assert_eq!(last.quantile, 1.0);
    assert!(spec
        .windows(2)
        .all(|w| w[0].total_count <= w[1].total_count));
    let d = Distribution::from_recorder(RECORDED, &a);
    assert_eq!((d.buckets, d.sub_buckets), (27, 2048));
    assert_eq!(d.percentiles.len(), 8);
    assert_eq!(d.total_count, 3000);
}
