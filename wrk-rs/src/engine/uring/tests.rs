//! The driver over loopback sockets: connect, send, multishot receive with
//! buffer recycling, cancel, EOF, refused connects, waits that time out.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::ring::{Completion, Driver, Op, Sizes, Token};

/// io_uring may be switched off by the administrator; the tests need it.
fn skip() -> bool {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim() != "0")
        .unwrap_or(false);
    if disabled {
        eprintln!("skipping: io_uring disabled by kernel.io_uring_disabled");
        return true;
    }
    // A sandbox's seccomp policy (e.g. Docker's default) refuses the ring
    // itself; wrk then runs on epoll, so there is nothing here to test.
    match io_uring::IoUring::new(8) {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::ENOSYS | libc::EACCES)
            ) =>
        {
            eprintln!("skipping: io_uring_setup refused: {e}");
            true
        }
        _ => false,
    }
}

/// Turns the ring until `pred` holds for the completions seen (10 s bound).
fn wait_for(d: &mut Driver, seen: &mut Vec<Completion>, pred: impl Fn(&[Completion]) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !pred(seen) {
        assert!(Instant::now() < end, "timed out; completions: {seen:?}");
        d.submit_and_wait(Some(Duration::from_millis(50))).unwrap();
        let done = d.take_completions();
        seen.extend_from_slice(&done);
        d.restore(done);
    }
}

/// A non-blocking TCP socket with its connect to `addr` under way.
fn connecting(addr: std::net::SocketAddr) -> Socket {
    let s = Socket::new(
        Domain::IPV4,
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )
    .unwrap();
    s.set_nodelay(true).unwrap();
    if let Err(e) = s.connect(&SockAddr::from(addr)) {
        assert_eq!(e.raw_os_error(), Some(libc::EINPROGRESS));
    }
    s
}

#[test]
fn probe_finds_io_uring_usable() {
    if skip() {
        return;
    }
    assert_eq!(super::unavailable_reason(), None);
    assert!(super::available());
}

#[test]
fn wrk_engine_variable_forces_an_engine_or_fails_clearly() {
    use super::{choose, Backend};
    use std::ffi::OsStr;
    let epoll = Some(OsStr::new("epoll"));
    let uring = Some(OsStr::new("uring"));
    assert_eq!(choose(None, None), Ok(Backend::Uring));
    assert_eq!(choose(Some(OsStr::new("")), None), Ok(Backend::Uring));
    assert_eq!(choose(None, Some("no")), Ok(Backend::Epoll));
    assert_eq!(choose(epoll, None), Ok(Backend::Epoll));
    assert_eq!(choose(uring, None), Ok(Backend::Uring));
    let err = choose(uring, Some("setup: Operation not permitted")).unwrap_err();
    assert_eq!(
        err,
        "WRK_ENGINE=uring: io_uring is not usable here: setup: Operation not permitted"
    );
    let err = choose(Some(OsStr::new("kqueue")), None).unwrap_err();
    assert_eq!(err, "WRK_ENGINE must be epoll or uring, not \"kqueue\"");
}

#[test]
fn token_round_trips() {
    for op in [Op::Connect, Op::Recv, Op::Send, Op::Cancel] {
        let t = Token::new(op, u32::MAX, 0x1234_5678);
        let back = Token::decode(t.encode()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.epoch, 0x34_5678);
    }
    assert_eq!(Token::decode(0), None);
}

#[test]
fn connect_send_and_multishot_receive_with_recycled_buffers() {
    if skip() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Echo server: 200 messages of 100 bytes back, then close.
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 100];
        for _ in 0..200 {
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        }
    });
    // Few buffers, so they must be recycled for 20,000 bytes to arrive.
    let sizes = Sizes {
        sq_entries: 64,
        cq_entries: 256,
        buffers: 16,
        buf_size: 4096,
    };
    let mut d = Driver::new(sizes).unwrap();
    let sock = connecting(addr);
    let fd = sock.as_raw_fd();
    d.poll_writable(fd, Token::new(Op::Connect, 7, 1)).unwrap();
    let mut seen = Vec::new();
    wait_for(&mut d, &mut seen, |s| {
        s.iter()
            .any(|c| Token::decode(c.user_data).unwrap().op == Op::Connect)
    });
    let pollout = i32::from(libc::POLLOUT);
    assert_eq!(seen[0].result & pollout, pollout, "{seen:?}");
    assert!(sock.take_error().unwrap().is_none());
    seen.clear();

    let recv = Token::new(Op::Recv, 7, 1);
    d.recv_multi(fd, recv).unwrap();
    let msg = [b'a'; 100];
    let mut received = Vec::new();
    let mut rearms = 0;
    let mut eof = false;
    for i in 0..200 {
        // SAFETY: `msg` outlives the wait for this send's completion below.
        unsafe {
            d.send(fd, msg.as_ptr(), 100, Token::new(Op::Send, 7, 1))
                .unwrap()
        };
        let want = (i + 1) * 100;
        let end = Instant::now() + Duration::from_secs(10);
        let mut sent = false;
        while received.len() < want || !sent {
            assert!(Instant::now() < end, "stalled at {} bytes", received.len());
            d.submit_and_wait(Some(Duration::from_millis(50))).unwrap();
            let done = d.take_completions();
            for c in &done {
                match Token::decode(c.user_data).unwrap().op {
                    Op::Send => {
                        assert_eq!(c.result, 100);
                        sent = true;
                    }
                    Op::Recv => {
                        if let Some(bid) = c.buffer() {
                            let n = c.result.max(0) as usize;
                            received.extend_from_slice(d.buffers().get(bid, n));
                            d.buffers_mut().recycle(bid);
                        }
                        if c.result == 0 {
                            eof = true;
                        }
                        if !c.more() && c.result != 0 {
                            // ENOBUFS or similar: arm again.
                            rearms += 1;
                            d.recv_multi(fd, recv).unwrap();
                        }
                    }
                    op => panic!("unexpected {op:?}"),
                }
            }
            d.buffers_mut().publish();
            d.restore(done);
        }
    }
    assert_eq!(received.len(), 20_000);
    assert!(received.iter().all(|&b| b == b'a'));
    assert!(
        rearms < 200,
        "multishot receive re-armed for every message ({rearms})"
    );
    server.join().unwrap();
    // The server closed: the multishot receive ends with 0 (EOF).
    let mut seen = Vec::new();
    if !eof {
        wait_for(&mut d, &mut seen, |s| {
            s.iter().any(|c| c.result == 0 && !c.more())
        });
    }
    drop(sock);
}

#[test]
fn cancel_ends_an_armed_receive() {
    if skip() {
        return;
    }
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut d = Driver::new(Sizes::for_connections(1)).unwrap();
    let recv = Token::new(Op::Recv, 3, 9);
    d.recv_multi(a.as_raw_fd(), recv).unwrap();
    d.submit_and_wait(None).unwrap();
    d.cancel(recv).unwrap();
    let mut seen = Vec::new();
    wait_for(&mut d, &mut seen, |s| {
        s.iter().any(|c| c.user_data == recv.encode())
    });
    let c = seen.iter().find(|c| c.user_data == recv.encode()).unwrap();
    assert_eq!(c.result, -libc::ECANCELED);
    assert!(!c.more());
}

#[test]
fn refused_connect_surfaces_at_the_first_send() {
    if skip() {
        return;
    }
    // A port nothing listens on: bind one, note it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut d = Driver::new(Sizes::for_connections(1)).unwrap();
    let sock = connecting(port);
    let t = Token::new(Op::Connect, 0, 0);
    d.poll_writable(sock.as_raw_fd(), t).unwrap();
    let mut seen = Vec::new();
    wait_for(&mut d, &mut seen, |s| {
        s.iter().any(|c| c.user_data == t.encode())
    });
    // The wait ends with an error mask; the error itself is left pending
    // for the first send (wrk never checks SO_ERROR).
    assert_ne!(
        seen[0].result & i32::from(libc::POLLERR | libc::POLLHUP),
        0,
        "{seen:?}"
    );
    let msg = *b"GET";
    let s = Token::new(Op::Send, 0, 0);
    // SAFETY: `msg` outlives the wait for the send's completion.
    unsafe { d.send(sock.as_raw_fd(), msg.as_ptr(), 3, s).unwrap() };
    wait_for(&mut d, &mut seen, |v| {
        v.iter().any(|c| c.user_data == s.encode())
    });
    assert_eq!(seen.last().unwrap().result, -libc::ECONNREFUSED);
}

#[test]
fn a_wait_with_nothing_pending_returns_after_its_timeout() {
    if skip() {
        return;
    }
    let mut d = Driver::new(Sizes::for_connections(10)).unwrap();
    let t0 = Instant::now();
    d.submit_and_wait(Some(Duration::from_millis(30))).unwrap();
    // Returned (no hang) and did wait: the timeout is honoured, not ignored.
    assert!(t0.elapsed() >= Duration::from_millis(25));
    assert!(d.take_completions().is_empty());
}

#[test]
fn peer_close_ends_the_receive_with_eof() {
    if skip() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let mut d = Driver::new(Sizes::for_connections(1)).unwrap();
    let recv = Token::new(Op::Recv, 1, 1);
    d.recv_multi(client.as_raw_fd(), recv).unwrap();
    (&server).write_all(b"bye").unwrap();
    drop(server);
    let mut seen = Vec::new();
    wait_for(&mut d, &mut seen, |s| s.iter().any(|c| c.result == 0));
    let data: Vec<u8> = seen
        .iter()
        .filter_map(|c| {
            c.buffer()
                .map(|b| d.buffers().get(b, c.result as usize).to_vec())
        })
        .flatten()
        .collect();
    assert_eq!(data, b"bye");
    let last = seen.last().unwrap();
    assert_eq!(last.result, 0);
    assert!(!last.more());
}
