//! [`super::session::run`] on both sides over a real loopback control
//! connection, with the fake verbs as backend: the NODE exchange in both
//! directions, the sync, the timed loops, the STAT exchange (rem_s/rem_r,
//! max_cqes) and what the result maths make of it per test kind.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use super::fake::{pair, End, FakeVerbs};
use super::loops::plan;
use super::node::Node;
use super::session::{run, Backend, Open};
use super::verbs::{Fin, Op, Verbs, Wc};
use crate::control::CtlError;
use crate::datapath::Role;
use crate::debug::Trace;
use crate::proto::{Req, Stat};
use crate::{results, wire};

thread_local! {
    /// The fake end the next `open` on this thread takes.
    static END: RefCell<Option<FakeVerbs>> = const { RefCell::new(None) };
}

/// The fake as a backend; records the peer NODE it was connected to.
struct FakeDev {
    v: FakeVerbs,
    node: Node,
    peer: Arc<Mutex<Option<Node>>>,
    armed: bool,
}

impl Backend for FakeDev {
    fn open(o: &mut Open) -> Result<Self, CtlError> {
        let v = END
            .with(|e| e.borrow_mut().take())
            .expect("an end for this thread");
        let base = if o.role == Role::Client { 0x100 } else { 0x200 };
        let node = Node {
            lid: base + 1,
            qpn: base + 2,
            psn: base + 3,
            rd_atomic: 16,
            ..Node::default()
        };
        Ok(FakeDev {
            v,
            node,
            peer: PEER.with(|p| p.clone()),
            armed: false,
        })
    }
    fn register(&mut self, size: usize, _: usize) -> Result<Node, String> {
        self.node.vaddr = 0x7f00_0000_0000 + size as u64;
        self.node.rkey = self.node.qpn ^ 0xffff;
        Ok(self.node)
    }
    fn connect(&mut self, peer: &Node) -> Result<(), String> {
        *self.peer.lock().unwrap() = Some(*peer);
        Ok(())
    }
    fn arm_events(&mut self) -> Result<(), String> {
        self.armed = true;
        Ok(())
    }
}

thread_local! {
    static PEER: Arc<Mutex<Option<Node>>> = Arc::new(Mutex::new(None));
}

impl Verbs for FakeDev {
    fn post_send(&mut self, id: u64, op: Op, off: usize, len: usize) -> Result<(), String> {
        self.v.post_send(id, op, off, len)
    }
    fn post_recv(&mut self) -> Result<(), String> {
        self.v.post_recv()
    }
    fn wait_event(&mut self, fin: Fin) -> Result<bool, String> {
        assert!(self.armed, "event mode without arming");
        self.v.wait_event(fin)
    }
    fn poll_cq(&mut self, wc: &mut [Wc]) -> Result<usize, String> {
        self.v.poll_cq(wc)
    }
    fn load(&self, off: usize) -> u8 {
        self.v.load(off)
    }
    fn store(&mut self, off: usize, v: u8) {
        self.v.store(off, v)
    }
    fn load_u64(&self, slot: usize) -> u64 {
        self.v.load_u64(slot)
    }
    fn touch(&self, len: usize) {
        self.v.touch(len)
    }
}

use crate::control::loopback_pair as controls;

struct Both {
    client: Result<(Stat, Stat), CtlError>,
    server: Result<(), CtlError>,
    client_peer: Option<Node>,
    server_peer: Option<Node>,
}

fn req_for(name: &str, msg_size: u32) -> Req {
    Req {
        req_index: crate::tests_table::find(name).unwrap().index(),
        msg_size,
        mtu_size: 2048,
        time: 1,
        timeout: 5,
        ..Req::default()
    }
}

fn both(name: &'static str, req: Req) -> Both {
    let cp = plan(name, Role::Client).unwrap();
    let sp = plan(name, Role::Server).unwrap();
    let size = |p: &super::loops::Plan| p.fixed_buf.unwrap_or(req.msg_size as usize);
    let end = |p: &super::loops::Plan| End {
        max_send_wr: p.max_send_wr,
        max_recv_wr: p.max_recv_wr,
        buf: size(p),
    };
    let (c, s) = pair(cp.qp, end(&cp), end(&sp));
    let (mut cc, mut sc) = controls();
    let sreq = req.clone();
    let server = std::thread::spawn(move || {
        END.with(|e| *e.borrow_mut() = Some(s));
        let open = Open {
            ctl: &mut sc,
            req: &sreq,
            role: Role::Server,
            plan: sp,
            host: "",
            timeout: 5,
        };
        let r = run::<FakeDev, _>(open, name, &Trace::off(), |ctl, stat| {
            ctl.send("results", &wire::encode_stat(&stat), 5)?;
            let got = ctl.recv("synchronization after test", wire::SYNC_AFTER.len(), 5)?;
            assert_eq!(got, wire::SYNC_AFTER);
            Ok(())
        });
        (r, PEER.with(|p| *p.lock().unwrap()))
    });
    END.with(|e| *e.borrow_mut() = Some(c));
    let open = Open {
        ctl: &mut cc,
        req: &req,
        role: Role::Client,
        plan: cp,
        host: "127.0.0.1",
        timeout: 5,
    };
    let client = run::<FakeDev, _>(open, name, &Trace::off(), |ctl, local| {
        let b = ctl.recv("results", wire::STAT_LEN, 5)?;
        let remote = wire::decode_stat(&b).unwrap();
        ctl.send("synchronization after test", wire::SYNC_AFTER, 5)?;
        Ok((local, remote))
    });
    let client_peer = PEER.with(|p| *p.lock().unwrap());
    let (server, server_peer) = server.join().unwrap();
    Both {
        client,
        server,
        client_peer,
        server_peer,
    }
}

#[test]
fn nodes_cross_over_the_control_connection() {
    let b = both("rc_bw", req_for("rc_bw", 1024));
    b.server.unwrap();
    let (l, r) = b.client.unwrap();
    let (cp, sp) = (b.client_peer.unwrap(), b.server_peer.unwrap());
    assert_eq!(
        (cp.lid, cp.qpn, cp.psn),
        (0x201, 0x202, 0x203),
        "client saw the server's node"
    );
    assert_eq!(
        (sp.lid, sp.qpn, sp.psn),
        (0x101, 0x102, 0x103),
        "server saw the client's node"
    );
    assert_eq!(cp.vaddr, 0x7f00_0000_0000 + 1024);
    assert_eq!(sp.rkey, 0x102 ^ 0xffff);
    // One second of sends: the server's STAT came back through the wire.
    assert!(r.r.msgs > 0 && l.s.msgs >= r.r.msgs, "{l:?} {r:?}");
    assert!(r.max_cqes >= 1 && l.max_cqes >= 1);
    let real = l.time_e.real - l.time_s.real;
    assert!((95..=500).contains(&real), "client ran {real} ticks");
    let res = results::compute(&l, &r);
    assert!(res.recv_bw > 0.0 && res.msg_rate > 0.0);
}

#[test]
fn rdma_read_results_count_the_servers_side_remotely() {
    let b = both("rc_rdma_read_bw", req_for("rc_rdma_read_bw", 4096));
    b.server.unwrap();
    let (l, r) = b.client.unwrap();
    assert_eq!(l.rem_s, l.r);
    assert_eq!(r.s.msgs, 0, "the server itself sends nothing");
    let res = results::compute(&l, &r);
    // The merge moves rem_s to the server: bandwidth in both directions.
    assert_eq!(res.r.s, l.rem_s);
    assert!(res.send_bw > 0.0 && res.recv_bw > 0.0);
}

#[test]
fn atomics_results_are_a_message_rate() {
    let b = both("rc_fetch_add_mr", req_for("rc_fetch_add_mr", 0));
    b.server.unwrap();
    let (l, r) = b.client.unwrap();
    assert!(l.rem_r.msgs > 0);
    let res = results::compute(&l, &r);
    assert_eq!(res.r.r, l.rem_r);
    assert!(res.msg_rate > 0.0);
}

#[test]
fn ver_with_a_small_message_fails_like_stock_on_the_client() {
    let b = both("ver_rc_fetch_add", req_for("ver_rc_fetch_add", 4));
    let e = b.client.unwrap_err();
    assert_eq!(e, CtlError::Local("message size must be at least 8".into()));
}

#[test]
fn our_server_refuses_a_huge_buffer() {
    let (mut _cc, mut sc) = controls();
    let (_, s) = pair(
        super::setup::Qp::Rc,
        End {
            max_send_wr: 1,
            max_recv_wr: 1,
            buf: 1,
        },
        End {
            max_send_wr: 1,
            max_recv_wr: 1,
            buf: 1,
        },
    );
    END.with(|e| *e.borrow_mut() = Some(s));
    let req = req_for("rc_lat", (1 << 30) + 1);
    let open = Open {
        ctl: &mut sc,
        req: &req,
        role: Role::Server,
        plan: plan("rc_lat", Role::Server).unwrap(),
        host: "",
        timeout: 5,
    };
    let r = run::<FakeDev, ()>(open, "rc_lat", &Trace::off(), |_, _| Ok(()));
    assert_eq!(
        r.unwrap_err(),
        CtlError::Local("bad message size: 1073741825; must be between 1 and 1073741824".into())
    );
}
