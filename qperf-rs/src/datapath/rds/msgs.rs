//! The RDS message loops (spec §4.11 step 5, counters §4.6, timer §4.9):
//! one `sendto`/`read`/`recvfrom` of `msg_size` per message; a call whose
//! length is not exactly `msg_size` is an error and the loop goes on; a call
//! that returns after the timer fired is not counted and ends the loop.
//!
//! The loops are generic over [`MsgIo`] so that they can be exercised where
//! the kernel has no RDS: [`Sys`] is the real thing (the libc calls of [`crate::sys`] on any
//! message socket, e.g. UDP in tests), and the unit tests also use a
//! scripted fake to check counting and termination call by call.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::super::timer::TestTimer;
use super::super::{count, Measured, Pattern, Role};
use crate::sys;
pub use crate::sys::RawAddr;

/// One message per call on a message-oriented socket.
pub trait MsgIo {
    /// A peer address.
    type Addr;
    /// `sendto(buf, to)`: bytes sent.
    fn send_to(&mut self, buf: &[u8], to: &Self::Addr) -> io::Result<usize>;
    /// `read(buf)`: bytes received.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// `recvfrom(buf)`: bytes received and the sender.
    fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, Self::Addr)>;
}

/// The real system calls on a blocking message socket.
pub struct Sys(pub RawFd);

/// -1 → the errno error, else the byte count.
fn sys_result(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl MsgIo for Sys {
    type Addr = RawAddr;

    fn send_to(&mut self, buf: &[u8], to: &RawAddr) -> io::Result<usize> {
        sys_result(sys::sendto(self.0, buf, to))
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys_result(sys::read(self.0, buf))
    }

    fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, RawAddr)> {
        let mut from = RawAddr::empty();
        let n = sys::recvfrom(self.0, buf, &mut from);
        sys_result(n).map(|n| (n, from))
    }
}

/// What one call amounted to.
#[derive(Debug, PartialEq, Eq)]
enum Call {
    /// A whole message: count it.
    Msg(usize),
    /// Wrong length or failure: an error, the loop goes on.
    Err,
    /// The timer had fired: not counted, the loop ends.
    Fin,
    /// Our receive timeout expired (server hardening; stock blocks).
    Idle,
}

fn judge(r: &io::Result<usize>, want: usize, fin: &AtomicBool) -> Call {
    if fin.load(Ordering::Relaxed) {
        return Call::Fin;
    }
    match r {
        Ok(n) if *n == want => Call::Msg(*n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Call::Idle,
        _ => Call::Err,
    }
}

/// What the loops need besides the socket.
pub struct Ctx<'a> {
    pub fin: &'a AtomicBool,
    /// Touch every received word (`-ar`, bw server only).
    pub access_recv: bool,
    /// Asked after an idle receive: is the client gone?  (Server only.)
    pub gone: &'a dyn Fn() -> bool,
}

/// An idle receive: ends the test (marking it idle) once the client is
/// gone, else the caller retries the call.
fn idle_ends(cx: &Ctx, m: &mut Measured) -> bool {
    if (cx.gone)() {
        m.idle = true;
        return true;
    }
    false
}

/// Touches every 8-byte word of a received message (`-ar`).
fn touch(buf: &[u8]) {
    let mut sum = 0u64;
    for w in buf.chunks_exact(8) {
        sum = sum.wrapping_add(u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])));
    }
    std::hint::black_box(sum);
}

/// rds_bw client: `sendto` the peer back to back.
pub fn bw_client<S: MsgIo>(s: &mut S, peer: &S::Addr, buf: &[u8], cx: &Ctx, m: &mut Measured) {
    while !cx.fin.load(Ordering::Relaxed) {
        match judge(&s.send_to(buf, peer), buf.len(), cx.fin) {
            Call::Msg(n) => count(&mut m.s, n),
            Call::Fin => break,
            Call::Err | Call::Idle => m.s.errs += 1,
        }
    }
}

/// rds_bw server: `read` one message per call.
pub fn bw_server<S: MsgIo>(s: &mut S, buf: &mut [u8], cx: &Ctx, m: &mut Measured) {
    while !cx.fin.load(Ordering::Relaxed) {
        let r = s.read(buf);
        match judge(&r, buf.len(), cx.fin) {
            Call::Msg(n) => {
                count(&mut m.r, n);
                if cx.access_recv {
                    touch(buf);
                }
            }
            Call::Fin => break,
            Call::Err => m.r.errs += 1,
            Call::Idle if idle_ends(cx, m) => break,
            Call::Idle => {}
        }
    }
}

/// rds_lat client: `sendto` the peer, then `read` the answer.
pub fn lat_client<S: MsgIo>(s: &mut S, peer: &S::Addr, buf: &mut [u8], cx: &Ctx, m: &mut Measured) {
    while !cx.fin.load(Ordering::Relaxed) {
        match judge(&s.send_to(buf, peer), buf.len(), cx.fin) {
            Call::Msg(n) => count(&mut m.s, n),
            Call::Fin => break,
            Call::Err | Call::Idle => {
                m.s.errs += 1;
                continue;
            }
        }
        let r = s.read(buf);
        match judge(&r, buf.len(), cx.fin) {
            Call::Msg(n) => count(&mut m.r, n),
            Call::Fin => break,
            Call::Err | Call::Idle => m.r.errs += 1,
        }
    }
}

/// rds_lat server: `recvfrom`, then `sendto` the same buffer back to the
/// sender.
pub fn lat_server<S: MsgIo>(s: &mut S, buf: &mut [u8], cx: &Ctx, m: &mut Measured) {
    while !cx.fin.load(Ordering::Relaxed) {
        let (r, from) = match s.recv_from(buf) {
            Ok((n, a)) => (Ok(n), Some(a)),
            Err(e) => (Err(e), None),
        };
        match judge(&r, buf.len(), cx.fin) {
            Call::Msg(n) => count(&mut m.r, n),
            Call::Fin => break,
            Call::Idle if idle_ends(cx, m) => break,
            Call::Idle => continue,
            Call::Err => {
                m.r.errs += 1;
                continue;
            }
        }
        let Some(from) = from else { continue };
        match judge(&s.send_to(buf, &from), buf.len(), cx.fin) {
            Call::Msg(n) => count(&mut m.s, n),
            Call::Fin => break,
            Call::Err | Call::Idle => m.s.errs += 1,
        }
    }
}

/// Parameters of one RDS data phase.
pub struct Phase<'a, A> {
    pub pattern: Pattern,
    pub role: Role,
    pub msg_size: usize,
    /// Seconds; 0 = no timer.
    pub time: u32,
    pub access_recv: bool,
    /// The peer's RDS address (the client sends there).
    pub peer: &'a A,
    /// See [`Ctx::gone`].
    pub gone: &'a dyn Fn() -> bool,
}

/// Runs the data phase on `s` from now until the timer fires (or, on the
/// server, the client is gone).  Starts the timer itself, right after the
/// caller's sync, and records its start and end counters.
pub fn run<S: MsgIo>(s: &mut S, p: &Phase<S::Addr>) -> Measured {
    let mut buf = vec![0u8; p.msg_size];
    let timer = TestTimer::start(p.time);
    let cx = Ctx {
        fin: timer.finished(),
        access_recv: p.access_recv,
        gone: p.gone,
    };
    let mut m = Measured::default();
    match (p.pattern, p.role) {
        (Pattern::Bw, Role::Client) => bw_client(s, p.peer, &buf, &cx, &mut m),
        (Pattern::Bw, Role::Server) => bw_server(s, &mut buf, &cx, &mut m),
        (Pattern::Lat, Role::Client) => lat_client(s, p.peer, &mut buf, &cx, &mut m),
        (Pattern::Lat, Role::Server) => lat_server(s, &mut buf, &cx, &mut m),
    }
    let (start, end) = timer.stop();
    m.time_s = start;
    m.time_e = end;
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockAddr;
    use std::collections::VecDeque;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    /// What the fake's next call returns.
    #[derive(Clone, Copy, Debug)]
    enum Ret {
        Ok(usize),
        Errno(i32),
        /// Returns the bytes, but the timer fired during the call.
        OkLate(usize),
    }

    /// A scripted socket: each call takes the next [`Ret`] and logs itself
    /// (`S`end to peer N as `S7`, `R`ead, `F` recvfrom).  When the script
    /// runs out, the timer "fires" (EINTR with the finished flag set).
    struct Fake<'a> {
        script: VecDeque<Ret>,
        fin: &'a AtomicBool,
        log: Vec<String>,
    }

    impl<'a> Fake<'a> {
        fn new(fin: &'a AtomicBool, script: &[Ret]) -> Self {
            Fake {
                script: script.iter().copied().collect(),
                fin,
                log: vec![],
            }
        }

        fn next(&mut self, what: String) -> io::Result<usize> {
            self.log.push(what);
            match self.script.pop_front() {
                Some(Ret::Ok(n)) => Ok(n),
                Some(Ret::Errno(e)) => Err(io::Error::from_raw_os_error(e)),
                Some(Ret::OkLate(n)) => {
                    self.fin.store(true, Ordering::SeqCst);
                    Ok(n)
                }
                None => {
                    self.fin.store(true, Ordering::SeqCst);
                    Err(io::Error::from_raw_os_error(libc::EINTR))
                }
            }
        }
    }

    impl MsgIo for Fake<'_> {
        type Addr = u32;
        fn send_to(&mut self, _: &[u8], to: &u32) -> io::Result<usize> {
            self.next(format!("S{to}"))
        }
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            self.next("R".into())
        }
        fn recv_from(&mut self, _: &mut [u8]) -> io::Result<(usize, u32)> {
            let n = self.log.len() as u32;
            self.next("F".into()).map(|b| (b, n))
        }
    }

    fn never() -> bool {
        false
    }

    fn always() -> bool {
        true
    }

    fn cx<'a>(fin: &'a AtomicBool, gone: &'a dyn Fn() -> bool) -> Ctx<'a> {
        Ctx {
            fin,
            access_recv: true,
            gone,
        }
    }

    #[test]
    fn bw_client_counts_exact_sends_and_goes_on_after_errors() {
        let fin = AtomicBool::new(false);
        let script = [
            Ret::Ok(8),
            Ret::Ok(3),
            Ret::Errno(libc::ENOBUFS),
            Ret::Ok(8),
            Ret::OkLate(8),
            Ret::Ok(8),
        ];
        let mut f = Fake::new(&fin, &script);
        let mut m = Measured::default();
        bw_client(&mut f, &9, &[0; 8], &cx(&fin, &never), &mut m);
        assert_eq!((m.s.msgs, m.s.bytes, m.s.errs), (2, 16, 2));
        assert_eq!(m.r, Default::default());
        // The late send is not counted and nothing follows it.
        assert_eq!(f.log, ["S9"; 5]);
    }

    #[test]
    fn bw_server_counts_reads_and_retries_while_the_client_is_there() {
        let fin = AtomicBool::new(false);
        let script = [
            Ret::Ok(8),
            Ret::Ok(0),
            Ret::Errno(libc::EAGAIN),
            Ret::Errno(libc::ECONNRESET),
            Ret::Ok(8),
        ];
        let mut f = Fake::new(&fin, &script);
        let mut m = Measured::default();
        bw_server(&mut f, &mut [0; 8], &cx(&fin, &never), &mut m);
        assert_eq!((m.r.msgs, m.r.bytes, m.r.errs), (2, 16, 2));
        assert!(!m.idle);
        // Then the timer ended it.
        assert_eq!(f.log.len(), 6);
    }

    #[test]
    fn idle_server_ends_once_the_client_is_gone() {
        let fin = AtomicBool::new(false);
        let mut f = Fake::new(&fin, &[Ret::Ok(8), Ret::Errno(libc::EAGAIN), Ret::Ok(8)]);
        let mut m = Measured::default();
        bw_server(&mut f, &mut [0; 8], &cx(&fin, &always), &mut m);
        assert_eq!((m.r.msgs, m.r.errs, m.idle), (1, 0, true));
        assert_eq!(f.log.len(), 2);

        let fin = AtomicBool::new(false);
        let mut f = Fake::new(&fin, &[Ret::Errno(libc::EAGAIN)]);
        let mut m = Measured::default();
        lat_server(&mut f, &mut [0; 8], &cx(&fin, &always), &mut m);
        assert!(m.idle);
        assert_eq!(f.log, ["F"]);
    }

    #[test]
    fn lat_client_skips_the_read_after_a_failed_send() {
        let fin = AtomicBool::new(false);
        let script = [
            Ret::Ok(4),                // S
            Ret::Ok(4),                // R
            Ret::Errno(libc::ENOBUFS), // S (error: no read)
            Ret::Ok(4),                // S
            Ret::Ok(2),                // R short: error
            Ret::Ok(4),                // S
            Ret::OkLate(4),            // R after the timer: not counted
        ];
        let mut f = Fake::new(&fin, &script);
        let mut m = Measured::default();
        lat_client(&mut f, &3, &mut [0; 4], &cx(&fin, &never), &mut m);
        assert_eq!((m.s.msgs, m.s.bytes, m.s.errs), (3, 12, 1));
        assert_eq!((m.r.msgs, m.r.bytes, m.r.errs), (1, 4, 1));
        assert_eq!(f.log, ["S3", "R", "S3", "S3", "R", "S3", "R"]);
    }

    #[test]
    fn lat_server_answers_the_sender() {
        let fin = AtomicBool::new(false);
        let script = [
            Ret::Ok(4),                     // F (sender 0)
            Ret::Ok(4),                     // S0
            Ret::Errno(libc::EINTR),        // F: a stray signal is an error
            Ret::Ok(1),                     // F short: error, no answer
            Ret::Ok(4),                     // F (sender 4)
            Ret::Errno(libc::EHOSTUNREACH), // S4 fails
            Ret::Ok(4),                     // F (sender 6)
            Ret::OkLate(4),                 // S6 after the timer
        ];
        let mut f = Fake::new(&fin, &script);
        let mut m = Measured::default();
        lat_server(&mut f, &mut [0; 4], &cx(&fin, &never), &mut m);
        assert_eq!((m.r.msgs, m.r.errs), (3, 2));
        assert_eq!((m.s.msgs, m.s.bytes, m.s.errs), (1, 4, 1));
        assert_eq!(f.log, ["F", "S0", "F", "F", "F", "S4", "F", "S6"]);
    }

    #[test]
    fn already_finished_makes_no_call() {
        let fin = AtomicBool::new(true);
        let mut f = Fake::new(&fin, &[Ret::Ok(4)]);
        let mut m = Measured::default();
        lat_client(&mut f, &0, &mut [0; 4], &cx(&fin, &never), &mut m);
        assert!(f.log.is_empty());
    }

    /// Two unconnected UDP sockets on loopback: the peer addresses and
    /// the real system calls of [`Sys`].
    fn udp_pair() -> (UdpSocket, UdpSocket, RawAddr, RawAddr) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = |s: &UdpSocket| RawAddr::from(&SockAddr::from(s.local_addr().unwrap()));
        let (aa, ba) = (addr(&a), addr(&b));
        (a, b, aa, ba)
    }

    fn phase<'a>(
        pattern: Pattern,
        role: Role,
        peer: &'a RawAddr,
        gone: &'a dyn Fn() -> bool,
    ) -> Phase<'a, RawAddr> {
        Phase {
            pattern,
            role,
            msg_size: 100,
            time: 1,
            access_recv: role == Role::Server,
            peer,
            gone,
        }
    }

    #[test]
    fn real_bw_over_udp_for_one_second() {
        let (c, s, _, s_addr) = udp_pair();
        let fd = s.as_raw_fd();
        let srv = std::thread::spawn(move || {
            let p = phase(Pattern::Bw, Role::Server, &s_addr, &never);
            run(&mut Sys(fd), &p)
        });
        let cm = run(
            &mut Sys(c.as_raw_fd()),
            &phase(Pattern::Bw, Role::Client, &s_addr, &never),
        );
        let sm = srv.join().unwrap();
        drop(s);
        assert!(cm.s.msgs > 100, "{cm:?}");
        assert_eq!(cm.s.bytes, cm.s.msgs * 100);
        assert_eq!(cm.r, Default::default());
        assert!(sm.r.msgs > 0 && sm.r.msgs <= cm.s.msgs, "{sm:?} {cm:?}");
        assert_eq!((sm.r.bytes, sm.r.errs), (sm.r.msgs * 100, 0));
        assert_eq!(sm.s, Default::default());
        for m in [cm, sm] {
            let ticks = m.time_e.real - m.time_s.real;
            assert!((90..=300).contains(&ticks), "{m:?}");
        }
    }

    #[test]
    fn real_lat_over_udp_for_one_second() {
        let (c, s, c_addr, s_addr) = udp_pair();
        let fd = s.as_raw_fd();
        let srv = std::thread::spawn(move || {
            let p = phase(Pattern::Lat, Role::Server, &c_addr, &never);
            run(&mut Sys(fd), &p)
        });
        let cm = run(
            &mut Sys(c.as_raw_fd()),
            &phase(Pattern::Lat, Role::Client, &s_addr, &never),
        );
        // The server's last recvfrom is interrupted by its own timer.
        let sm = srv.join().unwrap();
        assert!(cm.s.msgs > 100, "{cm:?}");
        assert!(
            cm.r.msgs <= cm.s.msgs && cm.s.msgs <= cm.r.msgs + 1,
            "{cm:?}"
        );
        assert!(
            sm.s.msgs <= sm.r.msgs && sm.r.msgs <= sm.s.msgs + 1,
            "{sm:?}"
        );
        // A message sent after the sender's timer fired is not counted by
        // the sender but may be by the receiver.
        assert!(sm.r.msgs <= cm.s.msgs + 1, "{sm:?} {cm:?}");
        assert!(cm.r.msgs <= sm.s.msgs + 1, "{sm:?} {cm:?}");
        assert_eq!(cm.s.errs + cm.r.errs + sm.s.errs + sm.r.errs, 0);
        assert_eq!(cm.r.bytes, cm.r.msgs * 100);
    }

    #[test]
    fn real_server_with_a_silent_client_ends_on_its_idle_timeout() {
        let (_c, s, c_addr, _) = udp_pair();
        s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        let mut p = phase(Pattern::Bw, Role::Server, &c_addr, &always);
        p.time = 10;
        let t0 = std::time::Instant::now();
        let m = run(&mut Sys(s.as_raw_fd()), &p);
        assert!(m.idle);
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    }
}
