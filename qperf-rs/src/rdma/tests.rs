//! The RDMA test loops over the fake verbs: counts, timer ends, `-n`,
//! poll vs event mode, UD's loss accounting, completion errors, a silent
//! peer, the atomics' value sequences.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fake::{pair, End, FakeVerbs};
use super::loops::{plan, verify_slots, Cfg, Counts, Kind, Plan, Runner};
use super::setup::Qp;
use super::verbs::Verbs;
use crate::datapath::Role;
use crate::tests_table::TESTS;

const RUN: Duration = Duration::from_millis(300);

struct Opts {
    msg_size: usize,
    no_msgs: u32,
    poll_mode: bool,
    /// Run no server loop at all (a peer that stops answering).
    silent_server: bool,
    time: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            msg_size: 64,
            no_msgs: 0,
            poll_mode: false,
            silent_server: false,
            time: RUN,
        }
    }
}

fn end(p: &Plan, msg_size: usize) -> End {
    End {
        max_send_wr: p.max_send_wr,
        max_recv_wr: p.max_recv_wr,
        buf: p.fixed_buf.unwrap_or(msg_size),
    }
}

fn msg_of(p: &Plan, msg_size: usize) -> usize {
    if p.fixed_buf.is_some() {
        0
    } else {
        msg_size
    }
}

struct Outcome {
    client: Result<Counts, String>,
    server: Result<Counts, String>,
    elapsed: Duration,
    client_events: usize,
    server_buf: Vec<u8>,
}

/// Runs test `name` over a fake pair; `tweak` may prepare the ends.
fn run_with(name: &str, o: Opts, tweak: impl FnOnce(&mut FakeVerbs, &mut FakeVerbs)) -> Outcome {
    let cp = plan(name, Role::Client).unwrap();
    let sp = plan(name, Role::Server).unwrap();
    let (mut c, mut s) = pair(cp.qp, end(&cp, o.msg_size), end(&sp, o.msg_size));
    tweak(&mut c, &mut s);
    let fin = Arc::new(AtomicBool::new(false));
    let cfg = |role, p: &Plan| Cfg {
        test: "",
        role,
        msg_size: msg_of(p, o.msg_size),
        no_msgs: o.no_msgs,
        access_recv: true,
        poll_mode: o.poll_mode,
    };
    let (ccfg, scfg) = (cfg(Role::Client, &cp), cfg(Role::Server, &sp));
    let name: &'static str = TESTS.iter().find(|t| t.name == name).unwrap().name;
    let f = fin.clone();
    let done = move || f.load(Ordering::SeqCst);
    // Both sides' pre-sync work, then both loops (the sync).
    Runner::new(&mut s, Cfg { test: name, ..scfg }, &done)
        .before_sync(sp.kind)
        .unwrap();
    Runner::new(&mut c, Cfg { test: name, ..ccfg }, &done)
        .before_sync(cp.kind)
        .unwrap();
    let t0 = Instant::now();
    let f = fin.clone();
    let timer = std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < o.time && !f.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        f.store(true, Ordering::SeqCst);
    });
    let silent = o.silent_server;
    let f = fin.clone();
    let server = std::thread::spawn(move || {
        let done = move || f.load(Ordering::SeqCst);
        let r = if silent {
            while !done() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(Counts::default())
        } else {
            Runner::new(&mut s, Cfg { test: name, ..scfg }, &done).run(sp.kind)
        };
        (r, s)
    });
    let client = Runner::new(&mut c, Cfg { test: name, ..ccfg }, &done).run(cp.kind);
    let elapsed = t0.elapsed();
    // A loop that failed early must not leave the other one running.
    if client.is_err() {
        fin.store(true, Ordering::SeqCst);
    }
    let (server, s) = server.join().unwrap();
    // Both loops are over (a `-n` run ends before its timer): release the
    // timer thread instead of waiting out `o.time`.
    fin.store(true, Ordering::SeqCst);
    timer.join().unwrap();
    // After both loops: nothing writes the server's buffer any more.
    let server_buf = s.buffer();
    Outcome {
        client,
        server,
        elapsed,
        client_events: c.events.load(Ordering::Relaxed),
        server_buf,
    }
}

fn run(name: &str, o: Opts) -> Outcome {
    run_with(name, o, |_, _| {})
}

/// The loop ended by the timer: not before it, not long after.
fn ended_by_timer(o: &Outcome) {
    assert!(
        o.elapsed >= RUN - Duration::from_millis(5),
        "{:?}",
        o.elapsed
    );
    assert!(o.elapsed < RUN + Duration::from_secs(5), "{:?}", o.elapsed);
}

fn bytes_match(c: &crate::proto::Counters, size: u64) {
    assert_eq!(c.bytes, c.msgs * size, "{c:?}");
    assert_eq!(c.errs, 0);
}

#[test]
fn every_rdma_test_but_xrc_has_a_plan_for_both_sides() {
    for t in TESTS.iter().filter(|t| t.transport.is_rdma()) {
        let has = plan(t.name, Role::Client).is_some() && plan(t.name, Role::Server).is_some();
        assert_eq!(has, !t.name.starts_with("xrc_"), "{}", t.name);
    }
    let p = plan("rc_bw", Role::Server).unwrap();
    assert_eq!(
        (p.kind, p.max_send_wr, p.max_recv_wr),
        (Kind::RecvBw, 0, 1024)
    );
    let p = plan("rc_compare_swap_mr", Role::Server).unwrap();
    assert_eq!(
        (p.kind, p.max_recv_wr, p.fixed_buf),
        (Kind::Nop, 1, Some(8))
    );
    assert_eq!(
        plan("ver_rc_fetch_add", Role::Client).unwrap().fixed_buf,
        None
    );
    assert_eq!(plan("ud_bw", Role::Client).unwrap().qp, Qp::Ud);
    assert!(plan("ud_rdma_write_bw", Role::Client).is_none());
    assert!(plan("uc_rdma_read_bw", Role::Client).is_none());
}

#[test]
fn rc_bw_counts_sends_at_post_and_receives_at_completion() {
    let o = run("rc_bw", Opts::default());
    ended_by_timer(&o);
    let (c, s) = (o.client.unwrap(), o.server.unwrap());
    bytes_match(&c.s, 64);
    bytes_match(&s.r, 64);
    assert!(s.r.msgs > 0);
    // RC loses nothing: the difference is what was still outstanding.
    assert!(
        c.s.msgs >= s.r.msgs && c.s.msgs - s.r.msgs <= 2 * 1024,
        "{c:?} {s:?}"
    );
    assert_eq!((c.r.msgs, s.s.msgs), (0, 0));
    assert!(c.max_cqes >= 1 && c.max_cqes <= 1024);
    assert!(o.client_events > 0, "event mode waits for events");
}

#[test]
fn no_msgs_stops_both_sides_before_the_timer() {
    let o = run(
        "rc_bw",
        Opts {
            no_msgs: 100,
            time: Duration::from_secs(30),
            ..Opts::default()
        },
    );
    assert!(o.elapsed < Duration::from_secs(20), "{:?}", o.elapsed);
    assert_eq!(o.client.unwrap().s.msgs, 100);
    assert_eq!(o.server.unwrap().r.msgs, 100);
    // UD's server may miss lost datagrams and then runs to its timer.
    let o = run(
        "ud_bw",
        Opts {
            no_msgs: 3000,
            time: Duration::from_secs(2),
            ..Opts::default()
        },
    );
    assert!(o.elapsed < Duration::from_secs(2), "{:?}", o.elapsed);
    assert_eq!(o.client.unwrap().s.msgs, 3000);
}

#[test]
fn ud_counts_lost_messages_as_sent_only() {
    // No receives posted on the peer: every datagram is lost, yet each
    // send completes and counts, as on a real UD QP.
    let o = run(
        "ud_bw",
        Opts {
            silent_server: true,
            ..Opts::default()
        },
    );
    ended_by_timer(&o);
    let c = o.client.unwrap();
    assert!(c.s.msgs > 1024, "sends go on after loss: {c:?}");
    bytes_match(&c.s, 64);
    assert_eq!(c.r.msgs, 0);
    let o = run("ud_bw", Opts::default());
    let (c, s) = (o.client.unwrap(), o.server.unwrap());
    assert!(s.r.msgs > 0 && c.s.msgs >= s.r.msgs, "{c:?} {s:?}");
}

#[test]
fn bi_bw_counts_both_directions_on_each_side() {
    for name in ["rc_bi_bw", "uc_bi_bw", "ud_bi_bw"] {
        let o = run(name, Opts::default());
        ended_by_timer(&o);
        let (c, s) = (o.client.unwrap(), o.server.unwrap());
        for x in [&c, &s] {
            assert!(x.s.msgs > 0 && x.r.msgs > 0, "{name}: {x:?}");
            bytes_match(&x.r, 64);
        }
        assert!(c.s.msgs >= s.r.msgs && s.s.msgs >= c.r.msgs, "{name}");
    }
}

#[test]
fn ping_pong_tests_alternate() {
    for name in [
        "rc_lat",
        "uc_lat",
        "ud_lat",
        "rc_rdma_write_lat",
        "uc_rdma_write_lat",
    ] {
        let o = run(
            name,
            Opts {
                msg_size: 1,
                ..Opts::default()
            },
        );
        ended_by_timer(&o);
        let (c, s) = (o.client.unwrap(), o.server.unwrap());
        assert!(c.r.msgs > 10, "{name}: {c:?}");
        assert!(c.r.msgs.abs_diff(s.r.msgs) <= 1, "{name}: {c:?} {s:?}");
        assert!(c.s.msgs.abs_diff(s.r.msgs) <= 1, "{name}: {c:?} {s:?}");
        bytes_match(&c.r, 1);
    }
}

#[test]
fn poll_mode_never_waits_for_events() {
    let o = run(
        "rc_lat",
        Opts {
            poll_mode: true,
            ..Opts::default()
        },
    );
    assert_eq!(o.client_events, 0);
    assert!(o.client.unwrap().r.msgs > 10);
    let o = run("rc_lat", Opts::default());
    assert!(o.client_events > 10);
}

#[test]
fn write_poll_lat_detects_the_peer_marker() {
    for name in ["rc_rdma_write_poll_lat", "uc_rdma_write_poll_lat"] {
        let o = run(
            name,
            Opts {
                msg_size: 16,
                ..Opts::default()
            },
        );
        ended_by_timer(&o);
        let (c, s) = (o.client.unwrap(), o.server.unwrap());
        assert!(c.r.msgs > 2, "{name}: {c:?}");
        // Each side counts one more arrival when the timer ends its spin.
        assert!(c.r.msgs.abs_diff(s.r.msgs) <= 2, "{name}: {c:?} {s:?}");
        assert!(c.s.msgs.abs_diff(s.r.msgs) <= 2, "{name}: {c:?} {s:?}");
        assert_eq!(o.server_buf[0], 0xaa);
    }
}

#[test]
fn rdma_read_counts_the_servers_side_remotely() {
    for name in ["rc_rdma_read_bw", "rc_rdma_read_lat"] {
        let o = run(name, Opts::default());
        ended_by_timer(&o);
        let (c, s) = (o.client.unwrap(), o.server.unwrap());
        assert!(c.r.msgs > 0, "{name}");
        assert_eq!(c.r, c.rem_s, "{name}");
        bytes_match(&c.r, 64);
        assert_eq!(c.s.msgs, 0, "reads are not sends");
        assert_eq!(s, Counts::default(), "{name}: the server only waits");
    }
}

#[test]
fn rdma_write_bw_server_counts_the_immediates() {
    for name in ["rc_rdma_write_bw", "uc_rdma_write_bw"] {
        let o = run(name, Opts::default());
        let (c, s) = (o.client.unwrap(), o.server.unwrap());
        assert!(s.r.msgs > 0 && c.s.msgs >= s.r.msgs, "{name}: {c:?} {s:?}");
        bytes_match(&s.r, 64);
    }
}

#[test]
fn atomics_count_eight_bytes_each() {
    for name in ["rc_compare_swap_mr", "rc_fetch_add_mr"] {
        let o = run(name, Opts::default());
        ended_by_timer(&o);
        let c = o.client.unwrap();
        assert!(c.rem_r.msgs > 0, "{name}");
        bytes_match(&c.rem_r, 8);
        bytes_match(&c.s, 8);
        assert!(c.s.msgs >= c.rem_r.msgs && c.s.msgs - c.rem_r.msgs <= 1024);
        // compare 0 / swap 0 and add 0 leave the target word alone.
        assert_eq!(o.server_buf, vec![0; 8], "{name}");
    }
}

#[test]
fn verified_atomics_follow_their_sequences() {
    let o = run(
        "ver_rc_fetch_add",
        Opts {
            msg_size: 65536,
            ..Opts::default()
        },
    );
    let c = o.client.unwrap();
    assert!(c.rem_r.msgs > 1024, "{c:?}");
    let word = u64::from_ne_bytes(o.server_buf[..8].try_into().unwrap());
    assert_eq!(word, c.s.msgs, "one increment per posted fetch_add");
    let o = run(
        "ver_rc_compare_swap",
        Opts {
            msg_size: 64,
            ..Opts::default()
        },
    );
    let c = o.client.unwrap();
    let word = u64::from_ne_bytes(o.server_buf[..8].try_into().unwrap());
    assert_eq!(word, 0x0123_4567_89ab_cdef + c.s.msgs - 1);
}

#[test]
fn verified_atomics_report_a_mismatch() {
    let o = run_with("ver_rc_fetch_add", Opts::default(), |_, s| s.store(0, 5));
    assert_eq!(
        o.client.unwrap_err(),
        "mismatch, sequence 1, expected 0, got 5"
    );
    assert!(o.elapsed < RUN, "fails at once");
    assert_eq!(
        verify_slots(7).unwrap_err(),
        "message size must be at least 8"
    );
    assert_eq!(verify_slots(65536), Ok(1024));
    assert_eq!(verify_slots(16), Ok(2));
}

#[test]
fn a_failed_completion_ends_the_test_with_stocks_text() {
    let o = run_with("rc_bw", Opts::default(), |c, _| c.fail_completion(3, 12));
    assert_eq!(o.client.unwrap_err(), "rc_bw failed: Retries exceeded");
    assert!(o.elapsed < RUN);
    let o = run_with("rc_lat", Opts::default(), |_, s| s.fail_completion(1, 99));
    assert_eq!(o.server.unwrap_err(), "rc_lat failed: CQ error 99");
    let o = run_with("rc_rdma_read_bw", Opts::default(), |c, _| {
        c.fail_completion(1, 10)
    });
    assert_eq!(
        o.client.unwrap_err(),
        "rc_rdma_read_bw failed: Remote access failure"
    );
}

#[test]
fn a_silent_peer_leaves_the_loop_to_the_timer() {
    for name in ["rc_lat", "rc_bw", "rc_rdma_write_poll_lat"] {
        let o = run(
            name,
            Opts {
                silent_server: true,
                ..Opts::default()
            },
        );
        ended_by_timer(&o);
        let c = o.client.unwrap();
        assert!(c.r.msgs <= 1, "{name}: {c:?}");
    }
}

#[test]
fn an_expired_timer_runs_no_loop() {
    let (mut c, _s) = pair(
        Qp::Rc,
        End {
            max_send_wr: 1024,
            max_recv_wr: 0,
            buf: 8,
        },
        End {
            max_send_wr: 0,
            max_recv_wr: 1024,
            buf: 8,
        },
    );
    let done = || true;
    let cfg = Cfg {
        test: "rc_bw",
        role: Role::Client,
        msg_size: 8,
        no_msgs: 0,
        access_recv: false,
        poll_mode: false,
    };
    let got = Runner::new(&mut c, cfg, &done).run(Kind::SendBw).unwrap();
    assert_eq!(got, Counts::default());
}
