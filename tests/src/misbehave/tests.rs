use super::*;
use crate::client::Conn;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

fn connect(srv: &MisbehavingServer) -> TcpStream {
    let s = TcpStream::connect(srv.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

fn get_all(srv: &MisbehavingServer) -> io::Result<Vec<u8>> {
    let mut s = connect(srv);
    s.write_all(GET)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn silent_close_sends_exactly_the_response_then_eof() {
    let srv = MisbehavingServer::start(Behavior::SilentClose);
    let out = get_all(&srv).expect("clean EOF, no reset");
    assert_eq!(out, SILENT_CLOSE_RESPONSE);
    assert_eq!(srv.requests(), 1);
    assert!(srv.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn reset_gives_connection_reset() {
    let srv = MisbehavingServer::start(Behavior::Reset);
    let mut s = connect(&srv);
    let _ = s.write_all(GET);
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).expect_err("reset");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn garbage_is_not_http() {
    let srv = MisbehavingServer::start(Behavior::Garbage);
    let out = get_all(&srv).expect("read");
    assert_eq!(out.len(), GARBAGE_LEN);
    assert!(!out.starts_with(b"HTTP/"));
    // Different connections get different bytes.
    assert_ne!(out, get_all(&srv).expect("read 2"));
}

#[test]
fn slow_headers_pause_after_the_status_line() {
    let pause = Duration::from_millis(300);
    let srv = MisbehavingServer::start(Behavior::SlowHeaders(pause));
    let mut s = connect(&srv);
    let start = Instant::now();
    s.write_all(GET).expect("write");
    let mut first = vec![0u8; SLOW_HEADERS_FIRST.len()];
    s.read_exact(&mut first).expect("status line");
    assert_eq!(first, SLOW_HEADERS_FIRST);
    assert!(start.elapsed() < pause);
    let mut rest = vec![0u8; SLOW_HEADERS_REST.len()];
    s.read_exact(&mut rest).expect("rest");
    assert_eq!(rest, SLOW_HEADERS_REST);
    assert!(start.elapsed() >= pause);
}

#[test]
fn slow_response_is_valid_and_keeps_alive() {
    let pause = Duration::from_millis(200);
    let srv = MisbehavingServer::start(Behavior::SlowResponse(pause));
    let mut c = Conn::connect(srv.addr()).expect("connect");
    for _ in 0..2 {
        let start = Instant::now();
        let r = c.get("/").expect("response");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        assert!(start.elapsed() >= pause);
    }
    assert_eq!(srv.connections(), 1);
}

#[test]
fn http10_body_runs_until_eof() {
    let srv = MisbehavingServer::start(Behavior::Http10Eof);
    let mut c = Conn::connect(srv.addr()).expect("connect");
    let r = c.get("/").expect("response");
    assert_eq!((r.version.as_str(), r.status), ("HTTP/1.0", 200));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.body, b"body delimited by close\n");
}

#[test]
fn not_found_keeps_alive() {
    let srv = MisbehavingServer::start(Behavior::NotFound);
    let mut c = Conn::connect(srv.addr()).expect("connect");
    for _ in 0..3 {
        assert_eq!(c.get("/x").expect("404").status, 404);
    }
    assert_eq!((srv.connections(), srv.requests()), (1, 3));
}

#[test]
fn never_respond_stays_silent() {
    let srv = MisbehavingServer::start(Behavior::NeverRespond);
    let mut s = connect(&srv);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    s.write_all(GET).expect("write");
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).expect_err("no data");
    assert!(matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
}

#[test]
fn stop_closes_open_connections_and_refuses_new_ones() {
    let srv = MisbehavingServer::start(Behavior::NeverRespond);
    let mut s = connect(&srv);
    s.write_all(GET).expect("write");
    while srv.connections() == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    srv.stop();
    assert!(start.elapsed() < Duration::from_secs(2));
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).expect("EOF after stop"), 0);
    assert!(TcpStream::connect(srv.addr()).is_err(), "still accepting");
    srv.stop(); // idempotent
}

#[test]
fn stop_interrupts_slow_responses() {
    let srv = MisbehavingServer::start(Behavior::SlowResponse(Duration::from_secs(30)));
    let mut s = connect(&srv);
    s.write_all(GET).expect("write");
    while srv.requests() == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    drop(srv);
    assert!(start.elapsed() < Duration::from_secs(2));
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).expect("EOF"), 0);
}
