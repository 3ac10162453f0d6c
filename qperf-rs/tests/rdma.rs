//! RDMA tests on a host without devices (this one): our client prints
//! exactly what the stock client prints, against our server, for every
//! RDMA test and for the option checks stock makes before it looks for a
//! device (MTU, `-i DEVICE:PORT`, `-sr`, `-cm1`).  Runs with and without
//! the `rdma` feature (CI runs both): the real verbs backend must fail
//! like stock's, the default build's no-device backend too.

mod support;

use std::process::Command;
use std::time::Duration;

use qperf_rs::tests_table::TESTS;
use support::{stock_client, OurServer};

fn ours_client(args: &[&str]) -> (i32, String, String) {
    let f = testkit::proc::run(
        Command::new(env!("CARGO_BIN_EXE_qperf")).args(args),
        Duration::from_secs(30),
    )
    .unwrap();
    (f.code().unwrap_or(-1), f.stdout_str(), f.stderr_str())
}

/// (exit code, stdout) of both clients with `args` against our server.
fn both(port: u16, args: &[&str]) -> Option<((i32, String), (i32, String))> {
    let port = port.to_string();
    let mut all = vec!["127.0.0.1", "-lp", &port, "-t", "1"];
    all.extend_from_slice(args);
    let (sc, so, _) = stock_client(&all)?;
    let (oc, oo, _) = ours_client(&all);
    Some(((sc, so), (oc, oo)))
}

#[test]
fn every_rdma_test_fails_like_stock_without_a_device() {
    let s = OurServer::start();
    for t in TESTS.iter().filter(|t| t.transport.is_rdma()) {
        let Some((stock, ours)) = both(s.port, &[t.name]) else {
            return;
        };
        assert_eq!(ours, stock, "{}", t.name);
        assert_eq!(ours.0, 1, "{}", t.name);
        assert!(
            ours.1
                .ends_with("failed to find any InfiniBand devices: Function not implemented\n"),
            "{}: {}",
            t.name,
            ours.1
        );
    }
    assert_eq!(s.quit(), 0);
}

#[test]
fn option_checks_come_before_the_device_as_in_stock() {
    let s = OurServer::start();
    let cases: &[(&[&str], &str)] = &[
        (
            &["-mt", "100", "rc_bw"],
            "bad MTU: 100; must be 256/512/1K/2K/4K",
        ),
        (
            &["-i", "mlx4_0:0", "rc_lat"],
            "bad IB port: 0; must be at least 1",
        ),
        (&["-sr", "foo", "ud_bw"], "bad static rate: foo"),
        (&["-mt", "100", "-sr", "foo", "uc_lat"], "bad MTU: 100"),
        (&["-cm1", "rc_bw"], "rdma_create_event_channel failed"),
        (&["-cm1", "ud_lat"], "failed to find any InfiniBand devices"),
        (
            &["-cm1", "-mt", "7", "rc_rdma_read_bw"],
            "rdma_create_event_channel failed",
        ),
        (
            &["-i", "rxe0:2", "-sr", "4xQDR", "rc_bw"],
            "failed to find any InfiniBand devices",
        ),
    ];
    for (args, want) in cases {
        let Some((stock, ours)) = both(s.port, args) else {
            return;
        };
        assert_eq!(ours, stock, "{args:?}");
        assert!(ours.1.contains(want), "{args:?}: {}", ours.1);
    }
    assert_eq!(s.quit(), 0);
}
