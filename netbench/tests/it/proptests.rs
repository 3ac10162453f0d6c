//! Property tests: the parsers invert the shared formatters (the `common`
//! crate prints exactly what qperf and wrk print), and no input makes a
//! parser panic. qperf keeps 3 significant digits counted on the rounded
//! integer part (9.65 prints as `9.7`), hence the 0.6 % tolerance.

use common::qperf::{render_block, Line, Value};
use common::wrk::units;
use netbench::parse::{qperf, units as p, wrk};
use proptest::prelude::*;

/// Whether qperf prints `size` in the exact binary form (`4 KiB (4,096)`):
/// a multiple of 1024 at every step up to the unit used (qperf.md §6.3).
fn binary_form(size: u64) -> bool {
    if size < 1024 || size.trailing_zeros() < 10 {
        return false;
    }
    let mut q = size / 1024;
    for _ in 0..3 {
        if q < 1024 {
            return true;
        }
        if q.trailing_zeros() < 10 {
            return false;
        }
        q /= 1024;
    }
    true
}

fn rel_close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs()
}

proptest! {
    #[test]
    fn qperf_blocks_round_trip(bw in 1.0f64..1e13, lat in 1e-8f64..100.0, size in 1u64..(1 << 31)) {
        let mut text = Vec::new();
        render_block(&mut text, "tcp_bw", &[Line::new("bw", Value::bandwidth(bw)), Line::new("msg_size", Value::size(size as f64))]).unwrap();
        render_block(&mut text, "tcp_lat", &[Line::new("latency", Value::latency(lat)), Line::new("msg_size", Value::size(size as f64))]).unwrap();
        let out = qperf::parse(&String::from_utf8(text).unwrap());
        prop_assert!(out.messages.is_empty(), "{:?}", out.messages);
        prop_assert_eq!(out.blocks.len(), 2);
        let got_size = out.blocks[0].msg_size.unwrap() as f64;
        prop_assert!(rel_close(got_size, size as f64, 0.006), "{} vs {}", got_size, size);
        if binary_form(size) {
            prop_assert_eq!(out.blocks[0].msg_size, Some(size));
        }
        let got_bw = out.blocks[0].bw.as_ref().unwrap().value;
        prop_assert!(rel_close(got_bw, bw, 0.006), "{} vs {}", got_bw, bw);
        let got_lat = out.blocks[1].latency.as_ref().unwrap().value;
        prop_assert!(rel_close(got_lat, lat, 0.006), "{} vs {}", got_lat, lat);
    }

    #[test]
    fn wrk_units_round_trip(us in 1.0f64..1e9, n in 1.0f64..1e14) {
        let t = units::format_time_us(us);
        let got = p::wrk_time(&t).unwrap();
        prop_assert!(rel_close(got, us * 1e-6, 0.01), "{} -> {} -> {}", us, t, got);
        let m = units::format_metric(n);
        prop_assert!(rel_close(p::wrk_metric(&m).unwrap(), n, 0.01), "{} -> {}", n, m);
        let b = format!("{}B", units::format_binary(n));
        prop_assert!(rel_close(p::wrk_bytes(&b).unwrap(), n, 0.01), "{} -> {}", n, b);
    }

    #[test]
    fn parsers_never_panic(text in "(\\PC|\n| |=|:|,|%)*") {
        let _ = qperf::parse(&text);
        let _ = wrk::parse(&text);
        let _ = wrk::error_text(&text, &text);
        let _ = netbench::config::parse(&text, "t.toml");
        let _ = netbench::sweep::Sweep::parse(&text);
        let _ = netbench::settings::parse_duration(&text);
    }

    #[test]
    fn wrk_lines_with_random_numbers_never_panic(a in "\\PC{0,12}", b in "\\PC{0,12}") {
        let text = format!("  {a} requests in {b}, {a} read\n  Socket errors: connect {a}, read {b}, write 1, timeout {a}\nRequests/sec: {b}\nTransfer/sec: {a}\n    Latency {a} {b} {a} {b}\n");
        let _ = wrk::parse(&text);
    }
}
