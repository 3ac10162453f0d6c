//! Hostile and broken clients against our server (spec §9.2/9.3): each is
//! followed by a normal client (the stock one when installed, else ours)
//! that must be served within 10 s — even when it was already queued while
//! the hostile client still held its connection.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use qperf_rs::client::{run_test, Outcome};
use qperf_rs::control::{Control, CtlError, Side};
use qperf_rs::proto::Req;
use qperf_rs::wire;
use support::{req, stock_client, target, OurServer};

/// A normal 1-second tcp_lat run must succeed within 10 s (+ the test).
fn normal_client_served(port: u16) {
    let t0 = Instant::now();
    if testkit::stock::find("qperf").is_some() {
        let p = port.to_string();
        let (code, out, err) =
            stock_client(&["127.0.0.1", "-lp", &p, "-t", "1", "tcp_lat"]).expect("stock client");
        assert_eq!((code, err.as_str()), (0, ""), "{out}");
        assert!(out.starts_with("tcp_lat:\n    latency  =  "), "{out}");
    } else {
        let r = req("tcp_lat", 1);
        assert!(matches!(
            run_test(&target(port), &r, &r),
            Ok(Outcome::Stats { .. })
        ));
    }
    assert!(
        t0.elapsed() < Duration::from_secs(12),
        "took {:?}",
        t0.elapsed()
    );
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).unwrap()
}

/// Sends raw REQ bytes and returns the server's error text.
fn error_for(port: u16, bytes: &[u8]) -> String {
    let mut ctl = Control::new(connect(port), Side::Client).unwrap();
    ctl.send("request data", bytes, 5).unwrap();
    match ctl.recv("port", 4, 5) {
        Err(CtlError::Peer(t)) => t,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A hostile REQ: how a normal REQ is edited, and the server's answer.
type Case = (fn(&mut Req), &'static str);

/// Each case on its own server, all at once: the REQ edited by the case is
/// refused with its text, then a normal client is served.
fn refused(cases: &[Case]) {
    let runs: Vec<_> = cases
        .iter()
        .map(|&(edit, text)| {
            std::thread::spawn(move || {
                let s = OurServer::start();
                let mut r = req("tcp_bw", 1);
                edit(&mut r);
                assert_eq!(error_for(s.port, &wire::encode_req(&r)), text);
                normal_client_served(s.port);
            })
        })
        .collect();
    for t in runs {
        t.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
}

#[test]
fn wrong_version() {
    refused(&[
        (
            |r| r.ver_min = 3,
            "upgrade qperf on client from 0.3.11 to 0.4.11",
        ),
        (
            |r| r.ver_maj = 1,
            "upgrade qperf on server from 0.4.11 to 1.4.11",
        ),
    ]);
}

#[test]
fn msg_size_zero_and_huge() {
    refused(&[
        (
            |r| r.msg_size = 0,
            "bad message size: 0; must be between 1 and 1073741824",
        ),
        (
            |r| r.msg_size = 1 << 31,
            "bad message size: 2147483648; must be between 1 and 1073741824",
        ),
    ]);
}

#[test]
fn port_out_of_range_and_timeout_zero() {
    refused(&[
        (|r| r.port = 70000, "bad port: 70000; must be at most 65535"),
        (
            |r| r.timeout = 0,
            "bad timeout: 0; must be at least 1 second",
        ),
    ]);
}

#[test]
fn bad_index() {
    refused(&[
        (|r| r.req_index = 33, "bad request index: 33"),
        (|r| r.req_index = 65535, "bad request index: 65535"),
    ]);
}

#[test]
fn garbage_req() {
    let s = OurServer::start();
    let junk: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
    let text = error_for(s.port, &junk);
    assert!(text.starts_with("upgrade qperf on "), "{text}");
    normal_client_served(s.port);
}

#[test]
fn truncated_req_held_open() {
    let s = OurServer::start();
    let mut c = connect(s.port);
    c.write_all(&wire::encode_req(&req("tcp_bw", 1))[..100])
        .unwrap();
    // The normal client comes while the truncated one still holds on.
    normal_client_served(s.port);
    drop(c);
}

#[test]
fn never_opens_data_port() {
    let s = OurServer::start();
    let mut c = connect(s.port);
    c.write_all(&wire::encode_req(&req("tcp_bw", 1))).unwrap();
    let mut port = [0u8; 4];
    c.read_exact(&mut port).unwrap();
    // Still holding the control connection, never connecting.
    normal_client_served(s.port);
    drop(c);
}

#[test]
fn never_opens_data_port_then_vanishes() {
    let s = OurServer::start();
    let mut c = connect(s.port);
    c.write_all(&wire::encode_req(&req("udp_bw", 1))).unwrap();
    let mut port = [0u8; 4];
    c.read_exact(&mut port).unwrap();
    drop(c);
    normal_client_served(s.port);
}

/// Does the REQ, data connection and sync, sends a little, then vanishes.
fn vanish_mid_test(test: &str, time: u32) {
    let s = OurServer::start();
    let r = req(test, time);
    let mut ctl = Control::new(connect(s.port), Side::Client).unwrap();
    ctl.send("request data", &wire::encode_req(&r), 5).unwrap();
    let p = wire::decode_port(&ctl.recv("port", 4, 5).unwrap()).unwrap() as u16;
    let tcp = test.starts_with("tcp");
    let data_tcp = tcp.then(|| TcpStream::connect(("127.0.0.1", p)).unwrap());
    let data_udp = (!tcp).then(|| {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        u.connect(("127.0.0.1", p)).unwrap();
        u
    });
    ctl.sync_before(5).unwrap();
    let msg = vec![0u8; r.msg_size as usize];
    if let Some(mut t) = data_tcp.as_ref() {
        t.write_all(&msg).unwrap();
    }
    if let Some(u) = &data_udp {
        let _ = u.send(&msg);
    }
    drop((ctl, data_tcp, data_udp));
    normal_client_served(s.port);
}

#[test]
fn vanishes_mid_tcp_test() {
    vanish_mid_test("tcp_bw", 1000);
}

#[test]
fn vanishes_mid_udp_test() {
    vanish_mid_test("udp_lat", 1000);
}

#[test]
fn silent_after_sync_with_huge_time() {
    let s = OurServer::start();
    let r = req("tcp_lat", 100_000);
    let mut ctl = Control::new(connect(s.port), Side::Client).unwrap();
    ctl.send("request data", &wire::encode_req(&r), 5).unwrap();
    let p = wire::decode_port(&ctl.recv("port", 4, 5).unwrap()).unwrap() as u16;
    let data = TcpStream::connect(("127.0.0.1", p)).unwrap();
    ctl.sync_before(5).unwrap();
    // Holds both connections open but never sends a message.
    normal_client_served(s.port);
    drop((ctl, data));
}

/// Single-port mode: a hand-made client whose REQ leaves the data port to
/// the server; returns the control connection and the announced port.
fn single_port_client(port: u16, test: &str, time: u32) -> (Control, u16) {
    let r = req(test, time);
    let mut ctl = Control::new(connect(port), Side::Client).unwrap();
    ctl.send("request data", &wire::encode_req(&r), 5).unwrap();
    let p = wire::decode_port(&ctl.recv("port", 4, 5).unwrap()).unwrap() as u16;
    assert_eq!(p, port, "without -ip the data port is the listen port");
    (ctl, p)
}

/// The rest of a tcp_bw test on `data`: sync, a little data, STAT, sync.
fn finish_tcp_bw(mut ctl: Control, mut data: TcpStream) {
    ctl.sync_before(5).unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1200) {
        if data.write_all(&[0u8; 4096]).is_err() {
            break;
        }
    }
    let stat = wire::decode_stat(&ctl.recv("results", wire::STAT_LEN, 5).unwrap()).unwrap();
    assert!(stat.r.bytes > 0, "the server counted our data: {stat:?}");
    ctl.send("synchronization after test", wire::SYNC_AFTER, 5)
        .unwrap();
}

#[test]
fn single_port_second_client_in_the_data_window_is_queued_not_data() {
    let s = OurServer::start();
    let (ctl, p) = single_port_client(s.port, "tcp_bw", 1);
    // A second client connects while the first one's data is awaited.
    let port = s.port;
    let second = std::thread::spawn(move || normal_client_served(port));
    std::thread::sleep(Duration::from_millis(300));
    let data = connect(p);
    finish_tcp_bw(ctl, data);
    second.join().unwrap();
    normal_client_served(s.port);
}

#[test]
fn single_port_stray_silent_connection_is_not_data() {
    let s = OurServer::start();
    let (ctl, p) = single_port_client(s.port, "tcp_bw", 1);
    let stray = connect(p);
    std::thread::sleep(Duration::from_millis(100));
    let data = connect(p);
    finish_tcp_bw(ctl, data);
    drop(stray);
    normal_client_served(s.port);
}

#[test]
fn single_port_garbage_connection_in_the_window_gets_the_usual_errors() {
    let s = OurServer::start();
    let (ctl, p) = single_port_client(s.port, "tcp_bw", 1);
    let mut junk = connect(p);
    junk.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let data = connect(p);
    finish_tcp_bw(ctl, data);
    drop(junk);
    normal_client_served(s.port);
}

/// The data connection went to another replica: the client hears why
/// within a few seconds instead of hanging.
#[test]
fn single_port_missing_data_connection_names_session_affinity() {
    let s = OurServer::start();
    let (mut ctl, _) = single_port_client(s.port, "tcp_bw", 1);
    let t0 = Instant::now();
    match ctl.sync_before(5) {
        Err(CtlError::Peer(text)) => {
            assert!(text.contains("sessionAffinity: ClientIP"), "{text}");
            assert!(text.contains(&format!("port {}", s.port)), "{text}");
        }
        other => panic!("expected the server's error, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    drop(ctl);
    normal_client_served(s.port);
}
