//! Formatter unit tests (expected strings from the goldens) and properties.

use common::qperf::{format_number, group_thousands, Units, Value};
use common::wrk::report::render_banner;
use common::wrk::units::{format_binary, format_metric, format_time_us, pad_cell};
use proptest::prelude::*;

fn vt(v: &Value) -> String {
    let mut s = format!("{} {}", v.text, v.unit.clone().unwrap_or_default());
    if let Some(a) = &v.alt {
        s += &format!(" ({a})");
    }
    s
}

#[test]
fn qperf_numbers_from_spec_and_goldens() {
    for (x, t) in [
        (1.7412, "1.74"),
        (116.4, "116"),
        (2.0001, "2"),
        (23.84, "23.8"),
        (0.05, "0.05"),
        (0.0004, "0"),
        (999.6, "1000"),
        (4184276992.0, "4184276992"),
    ] {
        assert_eq!(format_number(x, 3), t, "{x}");
    }
    assert_eq!(group_thousands("29766"), "29,766");
    assert_eq!(group_thousands("1234.5"), "1,234.5");
    let u = Units::default();
    assert_eq!(vt(&u.bandwidth(4.68e9)), "4.68 GB/sec");
    assert_eq!(vt(&u.rate(71_400.0)), "71.4 K/sec");
    assert_eq!(vt(&u.size(65536.0)), "64 KiB (65,536)");
    assert_eq!(vt(&u.size(1536.0)), "1.54 KB");
    assert_eq!(vt(&u.size(1_049_600.0)), "1.05 MB");
    assert_eq!(vt(&u.size(1_073_741_824.0)), "1 GiB (1,073,741,824)");
    assert_eq!(vt(&u.size(4_294_967_295.0)), "4.29 GB");
    assert_eq!(vt(&u.time(1.0)), "1 sec");
    assert_eq!(vt(&u.time(90.0)), "90 sec");
    assert_eq!(vt(&u.time(27.5e-6)), "27.5 us");
    assert_eq!(vt(&u.cost(0.271)), "271 ms/GB");
    assert_eq!(vt(&u.percent_cpus(1.27)), "127 % cpus");
    assert_eq!(vt(&u.count(71_426.0)), "71,426 ");
    assert_eq!(vt(&u.count(5_150_000.0)), "5.15 million");
    let uu = Units {
        unify_units: true,
        ..u
    };
    assert_eq!(vt(&uu.bandwidth(3620732928.0)), "3620732928 bytes/sec");
    assert_eq!(vt(&uu.size(65536.0)), "65536 bytes");
    assert_eq!(vt(&uu.time(1.0)), "1000000000 ns");
    let ub = Units {
        bits_per_sec: true,
        ..u
    };
    assert_eq!(vt(&ub.bandwidth(34.7e9 / 8.0)), "34.7 Gb/sec");
    let e6 = Units { precision: 6, ..u };
    assert_eq!(format_number(4.681234567, e6.precision), "4.68123");
}

#[test]
fn wrk_units_from_spec_and_goldens() {
    assert_eq!(format_time_us(146.0), "146.00us");
    assert_eq!(format_time_us(1960.0), "1.96ms");
    assert_eq!(format_time_us(3_010_000.0), "3.01s");
    assert_eq!(format_time_us(180_000_000.0), "3.00m");
    assert_eq!(format_metric(849.99), "849.99");
    assert_eq!(format_metric(850.0), "0.85k");
    assert_eq!(format_metric(850_000.0), "0.85M");
    assert_eq!(format_binary(871.0), "0.85K");
    assert_eq!(format_binary(1024.0), "1.00K");
    assert_eq!(format_binary(129.19 * 1024.0 * 1024.0), "129.19M");
    assert_eq!(pad_cell("1.96ms", 8), "  1.96ms");
    assert_eq!(pad_cell("26.57k", 8), " 26.57k ");
    assert_eq!(pad_cell("62.11", 10), "   62.11  ");
    assert_eq!(pad_cell("-nan", 10), "      -nan");
}

#[test]
fn banner_durations() {
    for (secs, text) in [
        (10, "10s"),
        (50, "50s"),
        (51, "1m"),
        (90, "2m"),
        (150, "2m"),
        (210, "4m"),
        (3600, "60m"),
        (7200, "120m"),
        (360_000, "6000m"),
    ] {
        let mut out = Vec::new();
        render_banner(&mut out, secs, "http://h/", 2, 10).unwrap();
        let expect = format!("Running {text} test @ http://h/\n  2 threads and 10 connections\n");
        assert_eq!(String::from_utf8(out).unwrap(), expect, "{secs}");
    }
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        0.0f64..1e12,
    ]
}

/// Parses qperf text back (commas removed), scaled by its unit.
fn qperf_back(v: &Value) -> f64 {
    let n: f64 = v.text.replace(',', "").parse().unwrap_or(f64::NAN);
    let scale = match v.unit.as_deref().unwrap_or("") {
        "KB/sec" | "K/sec" | "KB" | "us" | "thousand" => 1e3,
        "MB/sec" | "M/sec" | "MB" | "ms" | "million" => 1e6,
        "GB/sec" | "G/sec" | "GB" | "sec" | "billion" => 1e9,
        "TB/sec" | "T/sec" | "TB" | "trillion" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        _ => 1.0,
    };
    n * scale
}

fn wrk_back(s: &str) -> f64 {
    let end = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let n: f64 = s[..end].parse().unwrap_or(f64::NAN);
    n * match &s[end..] {
        "k" | "K" | "ms" => {
            if &s[end..] == "K" {
                1024.0
            } else {
                1e3
            }
        }
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "s" => 1e6,
        "m" => 60e6,
        _ => 1.0,
    }
}

proptest! {
    #[test]
    fn formatters_never_panic(x in any_f64(), p in 0usize..12, n in any::<u64>()) {
        let u = Units { precision: p, unify_units: false, bits_per_sec: false };
        for v in [u.bandwidth(x), u.rate(x), u.time(x), u.cost(x), u.percent_cpus(x),
                  u.count(x), u.size(x), u.size(n as f64)] {
            prop_assert!(!v.text.is_empty());
        }
        let s = format_time_us(x) + &format_metric(x) + &format_binary(x);
        prop_assert!(!s.is_empty());
        prop_assert!(!pad_cell(&format_metric(n as f64), 8).is_empty());
    }

    #[test]
    fn qperf_monotone(a in 0.0f64..1e13, b in 0.0f64..1e13) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let u = Units::default();
        prop_assert!(qperf_back(&u.bandwidth(lo)) <= qperf_back(&u.bandwidth(hi)));
        prop_assert!(qperf_back(&u.count(lo.floor())) <= qperf_back(&u.count(hi.floor())));
        prop_assert!(qperf_back(&u.size(lo.floor())) <= qperf_back(&u.size(hi.floor())));
    }

    #[test]
    fn wrk_monotone(a in 0.0f64..1e11, b in 0.0f64..1e11) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(wrk_back(&format_time_us(lo)) <= wrk_back(&format_time_us(hi)));
        prop_assert!(wrk_back(&format_metric(lo)) <= wrk_back(&format_metric(hi)));
    }
}
