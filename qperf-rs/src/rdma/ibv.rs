//! The real device behind [`Backend`] and [`Verbs`]: libibverbs and
//! librdmacm through `rdma-sys` (feature `rdma`).  This is the only module
//! with RDMA FFI; every unsafe block says why it is sound.  It follows
//! stock's `ib_open`/`cm_open`, `rd_create_qp`, `rd_mralloc`, `ib_prep`
//! and the post/poll helpers (spec §4.14), with stock's error texts
//! (`TEXT: strerror(errno)` where stock adds the system error).

use std::collections::hash_map::RandomState;
use std::ffi::CStr;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::raw::c_int;
use std::ptr::{self, null_mut};
use std::time::{Duration, Instant};

use rdma_sys::*;

use crate::control::CtlError;
use crate::datapath::Role;
use crate::wire;

use super::node::Node;
use super::session::{Backend, Open};
use super::setup::{
    self, ib_params, IbParams, Qp, LOCAL_ACK_TIMEOUT, MIN_RNR_TIMER, NCQE, QKEY, RETRY_CNT,
    RNR_RETRY_CNT,
};
use super::verbs::{Fin, Op, Verbs, Wc};

/// `TEXT: strerror(errno)` like stock's `error(SYS, ...)` (no suffix when
/// errno is 0).
fn sys(text: &str) -> String {
    sys_code(text, io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn sys_code(text: &str, code: i32) -> String {
    if code == 0 {
        text.to_string()
    } else {
        format!(
            "{text}: {}",
            crate::sys::strerror(&io::Error::from_raw_os_error(code))
        )
    }
}

fn set_errno(v: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = v };
}

/// The connection-manager half of a device opened with `-cm1`.
struct Cm {
    channel: *mut rdma_event_channel,
    /// The connected id (client: our id; server: the request's id).
    id: *mut rdma_cm_id,
    /// Server only: the listening id.
    listen: *mut rdma_cm_id,
    /// How long to wait for an event (stock blocks forever).
    wait: Duration,
}

/// One opened device, QP, CQ and registered buffer.
pub struct Device {
    role: Role,
    qp_type: Qp,
    ib: Option<IbParams>,
    sl: u8,
    src_path_bits: u8,
    alt_port: u8,
    devlist: *mut *mut ibv_device,
    ctx: *mut ibv_context,
    cm: Option<Cm>,
    channel: *mut ibv_comp_channel,
    pd: *mut ibv_pd,
    cq: *mut ibv_cq,
    qp: *mut ibv_qp,
    ah: *mut ibv_ah,
    mr: *mut ibv_mr,
    buf: *mut u8,
    buf_size: usize,
    msg_size: usize,
    max_inline: u32,
    max_send_wr: u32,
    max_recv_wr: u32,
    lnode: Node,
    rnode: Node,
    qkey: u32,
    wcs: Vec<ibv_wc>,
}

fn qp_type(q: Qp) -> ibv_qp_type::Type {
    match q {
        Qp::Rc => ibv_qp_type::IBV_QPT_RC,
        Qp::Uc => ibv_qp_type::IBV_QPT_UC,
        Qp::Ud => ibv_qp_type::IBV_QPT_UD,
    }
}

/// A random 24-bit packet sequence number.
fn random_psn() -> u32 {
    (RandomState::new().build_hasher().finish() & 0xff_ffff) as u32
}

impl Device {
    fn empty(o: &Open) -> Device {
        Device {
            role: o.role,
            qp_type: o.plan.qp,
            ib: None,
            sl: o.req.sl as u8,
            src_path_bits: o.req.src_path_bits as u8,
            alt_port: o.req.alt_port as u8,
            devlist: null_mut(),
            ctx: null_mut(),
            cm: None,
            channel: null_mut(),
            pd: null_mut(),
            cq: null_mut(),
            qp: null_mut(),
            ah: null_mut(),
            mr: null_mut(),
            buf: null_mut(),
            buf_size: 0,
            msg_size: 0,
            max_inline: 0,
            max_send_wr: o.plan.max_send_wr,
            max_recv_wr: o.plan.max_recv_wr,
            lnode: Node::default(),
            rnode: Node::default(),
            qkey: QKEY,
            wcs: Vec::new(),
        }
    }

    /// Stock's `ib_open`: checks, device, port LID, QP, INIT.
    fn open_ib(o: &Open) -> Result<Device, String> {
        let p = ib_params(o.req)?;
        let mut d = Device::empty(o);
        set_errno(0);
        // SAFETY: a null count pointer is allowed; the list is freed in Drop.
        d.devlist = unsafe { ibv_get_device_list(null_mut()) };
        if d.devlist.is_null() {
            return Err(sys("failed to find any InfiniBand devices"));
        }
        let mut device = null_mut();
        let mut i = 0;
        loop {
            // SAFETY: the list is NULL-terminated; we stop at the NULL.
            let dev = unsafe { *d.devlist.add(i) };
            if dev.is_null() {
                break;
            }
            // SAFETY: `dev` is a live entry; the name is a C string it owns.
            let name = unsafe { CStr::from_ptr(ibv_get_device_name(dev)) };
            if p.device
                .as_deref()
                .is_none_or(|n| n.as_bytes() == name.to_bytes())
            {
                device = dev;
                break;
            }
            i += 1;
        }
        if device.is_null() {
            return Err(sys("failed to find InfiniBand device"));
        }
        // SAFETY: `device` is an entry of the live list.
        d.ctx = unsafe { ibv_open_device(device) };
        if d.ctx.is_null() {
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(ibv_get_device_name(device)) };
            return Err(sys(&format!(
                "failed to open device {}",
                name.to_string_lossy()
            )));
        }
        let port = p.port as u8;
        d.lnode.lid = d.port_lid(port)?;
        d.create_qp(d.ctx, null_mut(), o.req.rd_atomic)?;
        // SAFETY: an all-zero ibv_qp_attr is a valid "nothing set" value.
        let mut attr: ibv_qp_attr = unsafe { std::mem::zeroed() };
        attr.qp_state = ibv_qp_state::IBV_QPS_INIT;
        attr.pkey_index = 0;
        attr.port_num = port;
        let mut mask = ibv_qp_attr_mask::IBV_QP_STATE.0
            | ibv_qp_attr_mask::IBV_QP_PKEY_INDEX.0
            | ibv_qp_attr_mask::IBV_QP_PORT.0;
        match d.qp_type {
            Qp::Ud => {
                mask |= ibv_qp_attr_mask::IBV_QP_QKEY.0;
                attr.qkey = d.qkey;
            }
            Qp::Rc => {
                mask |= ibv_qp_attr_mask::IBV_QP_ACCESS_FLAGS.0;
                attr.qp_access_flags = ibv_access_flags::IBV_ACCESS_REMOTE_READ.0
                    | ibv_access_flags::IBV_ACCESS_REMOTE_WRITE.0
                    | ibv_access_flags::IBV_ACCESS_REMOTE_ATOMIC.0;
            }
            Qp::Uc => {
                mask |= ibv_qp_attr_mask::IBV_QP_ACCESS_FLAGS.0;
                attr.qp_access_flags = ibv_access_flags::IBV_ACCESS_REMOTE_WRITE.0;
            }
        }
        // SAFETY: `d.qp` is the QP just created; attr/mask describe INIT.
        if unsafe { ibv_modify_qp(d.qp, &mut attr, mask as c_int) } != 0 {
            return Err(sys("failed to modify QP to INIT state"));
        }
        // SAFETY: `d.qp` is live.
        d.lnode.qpn = unsafe { (*d.qp).qp_num };
        d.lnode.psn = random_psn();
        if d.alt_port != 0 {
            d.lnode.alt_lid = d.port_lid(d.alt_port)?;
        }
        d.ib = Some(p);
        Ok(d)
    }

    /// Port LID plus the path bits the LMC allows.
    fn port_lid(&self, port: u8) -> Result<u32, String> {
        // SAFETY: ibv_port_attr is plain data; zero is a valid start.
        let mut pa: ibv_port_attr = unsafe { std::mem::zeroed() };
        // SAFETY: `ctx` is an open context and `pa` is writable.
        if unsafe { ___ibv_query_port(self.ctx, port, &mut pa) } != 0 {
            return Err(sys("query port failed"));
        }
        let mut lid = u32::from(pa.lid);
        if pa.lmc > 0 {
            lid += u32::from(self.src_path_bits) & ((1u32 << pa.lmc) - 1);
        }
        Ok(lid)
    }

    /// Stock's `rd_create_qp`: rd_atomic, completion channel, PD, CQ, QP
    /// (on the CM id when `id` is set).
    fn create_qp(
        &mut self,
        ctx: *mut ibv_context,
        id: *mut rdma_cm_id,
        rd_atomic: u32,
    ) -> Result<(), String> {
        // SAFETY: plain data, filled by the call below.
        let mut da: ibv_device_attr = unsafe { std::mem::zeroed() };
        // SAFETY: `ctx` is an open context.
        if unsafe { ibv_query_device(ctx, &mut da) } != 0 {
            return Err(sys("query device failed"));
        }
        self.lnode.rd_atomic = setup::rd_atomic(rd_atomic, da.max_qp_rd_atom)?;
        // SAFETY: `ctx` is open; the channel is destroyed in Drop.
        self.channel = unsafe { ibv_create_comp_channel(ctx) };
        if self.channel.is_null() {
            return Err(sys("failed to create completion channel"));
        }
        // Non-blocking, so waiting for an event can also watch the timer.
        // SAFETY: `fd` belongs to the live channel.
        unsafe {
            let fd = (*self.channel).fd;
            let fl = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        // SAFETY: `ctx` is open; the PD is released in Drop.
        self.pd = unsafe { ibv_alloc_pd(ctx) };
        if self.pd.is_null() {
            return Err(sys("failed to allocate protection domain"));
        }
        let cqe = (self.max_send_wr + self.max_recv_wr) as c_int;
        // SAFETY: `ctx` and `channel` are live; the CQ is destroyed in Drop.
        self.cq = unsafe { ibv_create_cq(ctx, cqe, null_mut(), self.channel, 0) };
        if self.cq.is_null() {
            return Err(sys("failed to create completion queue"));
        }
        // SAFETY: plain data; the fields that matter are set below.
        let mut ia: ibv_qp_init_attr = unsafe { std::mem::zeroed() };
        ia.send_cq = self.cq;
        ia.recv_cq = self.cq;
        ia.cap.max_send_wr = self.max_send_wr;
        ia.cap.max_recv_wr = self.max_recv_wr;
        ia.cap.max_send_sge = 1;
        ia.cap.max_recv_sge = 1;
        ia.qp_type = qp_type(self.qp_type);
        if id.is_null() {
            // SAFETY: `pd` and the CQ are live; the QP is destroyed in Drop.
            self.qp = unsafe { ibv_create_qp(self.pd, &mut ia) };
            if self.qp.is_null() {
                return Err(sys("failed to create QP"));
            }
        } else {
            // SAFETY: `id` is a live CM id on `ctx`; rdma_destroy_qp in Drop.
            if unsafe { rdma_create_qp(id, self.pd, &mut ia) } != 0 {
                return Err(sys("failed to create QP"));
            }
            // SAFETY: rdma_create_qp succeeded, so `id->qp` is set.
            self.qp = unsafe { (*id).qp };
        }
        // SAFETY: plain data, filled by the query.
        let mut qa: ibv_qp_attr = unsafe { std::mem::zeroed() };
        // SAFETY: plain data, filled by the query.
        let mut qi: ibv_qp_init_attr = unsafe { std::mem::zeroed() };
        // SAFETY: `qp` is live; both outputs are writable.
        let r = unsafe {
            ibv_query_qp(
                self.qp,
                &mut qa,
                ibv_qp_attr_mask::IBV_QP_CAP.0 as c_int,
                &mut qi,
            )
        };
        if r != 0 {
            return Err(sys("query QP failed"));
        }
        self.max_inline = qa.cap.max_inline_data;
        self.wcs = Vec::with_capacity(NCQE);
        Ok(())
    }

    // ---------- connection manager ----------

    fn cm_init(o: &Open) -> Result<Cm, String> {
        // SAFETY: no arguments; destroyed in Drop.
        let channel = unsafe { rdma_create_event_channel() };
        if channel.is_null() {
            return Err("rdma_create_event_channel failed".into());
        }
        let mut cm = Cm {
            channel,
            id: null_mut(),
            listen: null_mut(),
            wait: Duration::from_secs(u64::from(o.timeout.max(1))),
        };
        let ps = if o.plan.qp == Qp::Rc {
            rdma_port_space::RDMA_PS_TCP
        } else {
            rdma_port_space::RDMA_PS_UDP
        };
        let mut id = null_mut();
        // SAFETY: `channel` is live; `id` receives the new id.
        if unsafe { rdma_create_id(channel, &mut id, null_mut(), ps) } != 0 {
            // SAFETY: nothing uses the channel yet.
            unsafe { rdma_destroy_event_channel(channel) };
            return Err("rdma_create_id failed".into());
        }
        cm.id = id;
        cm.listen = id;
        Ok(cm)
    }

    /// Waits for the next CM event (bounded) and checks its type; returns
    /// the event, which the caller must acknowledge.
    fn cm_expect(cm: &Cm, want: u32) -> Result<*mut rdma_cm_event, String> {
        // SAFETY: `channel` is live; `fd` is its descriptor.
        let fd = unsafe { (*cm.channel).fd };
        let deadline = Instant::now() + cm.wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("failed to receive event from RDMA CM channel: timed out".into());
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().clamp(1, 1000) as c_int) };
            if r > 0 {
                break;
            }
        }
        let mut ev = null_mut();
        // SAFETY: `channel` is live and readable; `ev` receives the event.
        if unsafe { rdma_get_cm_event(cm.channel, &mut ev) } != 0 {
            return Err("failed to receive event from RDMA CM channel".into());
        }
        // SAFETY: a returned event stays valid until acknowledged.
        let got = unsafe { (*ev).event };
        if got != want {
            // SAFETY: acknowledging the event we own.
            unsafe { rdma_ack_cm_event(ev) };
            return Err(format!(
                "unexpected event from RDMA CM: {}\n    expecting: {}",
                cm_event_name(got),
                cm_event_name(want)
            ));
        }
        Ok(ev)
    }

    fn cm_ack(ev: *mut rdma_cm_event) -> Result<(), String> {
        // SAFETY: `ev` came from rdma_get_cm_event and is acked once.
        if unsafe { rdma_ack_cm_event(ev) } != 0 {
            return Err("rdma_ack_cm_event failed".into());
        }
        Ok(())
    }

    fn conn_param() -> rdma_conn_param {
        // SAFETY: plain data; the fields stock sets are set below.
        let mut p: rdma_conn_param = unsafe { std::mem::zeroed() };
        p.responder_resources = 1;
        p.initiator_depth = 1;
        p.retry_count = RETRY_CNT;
        p.rnr_retry_count = RNR_RETRY_CNT;
        p
    }

    fn open_cm(o: &mut Open) -> Result<Device, CtlError> {
        let l = |m: String| CtlError::Local(m);
        let mut d = Device::empty(o);
        let cm = Device::cm_init(o).map_err(l)?;
        let listen = cm.listen;
        d.cm = Some(cm);
        let cm =
            d.cm.as_ref()
                .map(|c| (c.channel, c.wait))
                .ok_or_else(|| l("cm".into()))?;
        let cmref = Cm {
            channel: cm.0,
            id: null_mut(),
            listen: null_mut(),
            wait: cm.1,
        };
        match o.role {
            Role::Server => {
                // SAFETY: a zeroed sockaddr_in is INADDR_ANY port 0.
                let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                // SAFETY: `listen` is live; `sa` is a valid IPv4 address.
                if unsafe { rdma_bind_addr(listen, (&mut sa as *mut libc::sockaddr_in).cast()) }
                    != 0
                {
                    return Err(l("rdma_bind_addr failed".into()));
                }
                // SAFETY: `listen` is bound.
                let port = u16::from_be(unsafe { rdma_get_src_port(listen) });
                o.ctl.send(
                    "RDMA CM TCP IPv4 server port",
                    &wire::encode_port(u32::from(port)),
                    o.timeout,
                )?;
                // SAFETY: `listen` is bound.
                if unsafe { rdma_listen(listen, 0) } != 0 {
                    return Err(l("rdma_listen failed".into()));
                }
                let ev =
                    Device::cm_expect(&cmref, rdma_cm_event_type::RDMA_CM_EVENT_CONNECT_REQUEST)
                        .map_err(l)?;
                // SAFETY: the request event names the new id and its device.
                let (id, ctx) = unsafe { ((*ev).id, (*(*ev).id).verbs) };
                if let Some(c) = d.cm.as_mut() {
                    c.id = id;
                }
                // The request must be acknowledged on every path: an id
                // with unacknowledged events cannot be destroyed.
                let accepted = d.create_qp(ctx, id, o.req.rd_atomic).and_then(|()| {
                    let mut p = Device::conn_param();
                    // SAFETY: `id` has its QP; `p` is valid.
                    if unsafe { rdma_accept(id, &mut p) } != 0 {
                        return Err("rdma_accept failed".to_string());
                    }
                    Ok(())
                });
                let acked = Device::cm_ack(ev);
                accepted.map_err(l)?;
                acked.map_err(l)?;
                let ev = Device::cm_expect(&cmref, rdma_cm_event_type::RDMA_CM_EVENT_ESTABLISHED)
                    .map_err(l)?;
                Device::cm_ack(ev).map_err(l)?;
                // SAFETY: plain data; only min_rnr_timer is used.
                let mut a: ibv_qp_attr = unsafe { std::mem::zeroed() };
                a.min_rnr_timer = MIN_RNR_TIMER;
                // Ignored on failure, as stock does (iWARP devices refuse).
                // SAFETY: `qp` is live.
                unsafe {
                    ibv_modify_qp(
                        d.qp,
                        &mut a,
                        ibv_qp_attr_mask::IBV_QP_MIN_RNR_TIMER.0 as c_int,
                    )
                };
            }
            Role::Client => {
                let b = o
                    .ctl
                    .recv("RDMA CM TCP IPv4 server port", wire::PORT_LEN, o.timeout)?;
                let port = wire::decode_port(&b).map_err(|e| l(e.to_string()))?;
                let addr = (o.host, port as u16)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.find(SocketAddr::is_ipv4))
                    .ok_or_else(|| {
                        l("getaddrinfo failed: Address family for hostname not supported".into())
                    })?;
                let SocketAddr::V4(v4) = addr else {
                    return Err(l("getaddrinfo failed".into()));
                };
                // SAFETY: zeroed sockaddr_in, then filled.
                let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = v4.port().to_be();
                sa.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
                let ms = (o.req.timeout.saturating_mul(1000)).min(i32::MAX as u32) as c_int;
                // SAFETY: `listen` (our id) is live; `sa` is a valid address.
                let r = unsafe {
                    rdma_resolve_addr(
                        listen,
                        null_mut(),
                        (&mut sa as *mut libc::sockaddr_in).cast(),
                        ms,
                    )
                };
                if r != 0 {
                    return Err(l("rdma_resolve_addr failed".into()));
                }
                let ev = Device::cm_expect(&cmref, rdma_cm_event_type::RDMA_CM_EVENT_ADDR_RESOLVED)
                    .map_err(l)?;
                Device::cm_ack(ev).map_err(l)?;
                // SAFETY: the address is resolved.
                if unsafe { rdma_resolve_route(listen, ms) } != 0 {
                    return Err(l("rdma_resolve_route failed".into()));
                }
                let ev =
                    Device::cm_expect(&cmref, rdma_cm_event_type::RDMA_CM_EVENT_ROUTE_RESOLVED)
                        .map_err(l)?;
                Device::cm_ack(ev).map_err(l)?;
                // SAFETY: a resolved id has its device context.
                let ctx = unsafe { (*listen).verbs };
                d.create_qp(ctx, listen, o.req.rd_atomic).map_err(l)?;
                if let Some(c) = d.cm.as_mut() {
                    c.listen = null_mut();
                }
                let mut p = Device::conn_param();
                // SAFETY: `listen` has its QP; `p` is valid.
                if unsafe { rdma_connect(listen, &mut p) } != 0 {
                    return Err(l("rdma_connect failed".into()));
                }
                let ev = Device::cm_expect(&cmref, rdma_cm_event_type::RDMA_CM_EVENT_ESTABLISHED)
                    .map_err(l)?;
                Device::cm_ack(ev).map_err(l)?;
            }
        }
        Ok(d)
    }

    /// An address vector towards `lid` on `port`.
    fn ah_attr(&self, lid: u32, port: u8, rate: u32) -> ibv_ah_attr {
        // SAFETY: plain data (no GRH: stock routes by LID only).
        let mut a: ibv_ah_attr = unsafe { std::mem::zeroed() };
        a.dlid = lid as u16;
        a.port_num = port;
        a.static_rate = rate as u8;
        a.src_path_bits = self.src_path_bits;
        a.sl = self.sl;
        a
    }

    fn modify(&self, attr: &mut ibv_qp_attr, mask: u32, what: &str) -> Result<(), String> {
        // SAFETY: `qp` is live; `attr` is valid for the fields in `mask`.
        if unsafe { ibv_modify_qp(self.qp, attr, mask as c_int) } != 0 {
            return Err(sys(what));
        }
        Ok(())
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<(), String> {
        match offset.checked_add(len) {
            Some(end) if end <= self.buf_size => Ok(()),
            _ => Err(format!(
                "internal error: request outside the buffer ({offset}+{len})"
            )),
        }
    }
}

fn cm_event_name(e: u32) -> String {
    use rdma_cm_event_type::*;
    let n = match e {
        RDMA_CM_EVENT_ADDR_RESOLVED => "Address resolved",
        RDMA_CM_EVENT_ADDR_ERROR => "Address error",
        RDMA_CM_EVENT_ROUTE_RESOLVED => "Route resolved",
        RDMA_CM_EVENT_ROUTE_ERROR => "Route error",
        RDMA_CM_EVENT_CONNECT_REQUEST => "Connect request",
        RDMA_CM_EVENT_CONNECT_RESPONSE => "Connect response",
        RDMA_CM_EVENT_CONNECT_ERROR => "Connect error",
        RDMA_CM_EVENT_UNREACHABLE => "Event unreachable",
        RDMA_CM_EVENT_REJECTED => "Event rejected",
        RDMA_CM_EVENT_ESTABLISHED => "Event established",
        RDMA_CM_EVENT_DISCONNECTED => "Event disconnected",
        RDMA_CM_EVENT_DEVICE_REMOVAL => "Device removal",
        RDMA_CM_EVENT_MULTICAST_JOIN => "Multicast join",
        RDMA_CM_EVENT_MULTICAST_ERROR => "Multicast error",
        _ => {
            // SAFETY: rdma_event_str returns a static C string for any value.
            let s = unsafe { CStr::from_ptr(rdma_event_str(e)) };
            return s.to_string_lossy().into_owned();
        }
    };
    n.to_string()
}

impl Backend for Device {
    fn open(o: &mut Open) -> Result<Self, CtlError> {
        if o.req.use_cm != 0 {
            Device::open_cm(o)
        } else {
            Device::open_ib(o).map_err(CtlError::Local)
        }
    }

    fn register(&mut self, size: usize, msg_size: usize) -> Result<Node, String> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let mut p: *mut libc::c_void = null_mut();
        // SAFETY: `p` receives an allocation of `size` bytes freed in Drop.
        if unsafe { libc::posix_memalign(&mut p, page, size) } != 0 {
            return Err(sys("failed to allocate memory"));
        }
        // SAFETY: `p` points to `size` writable bytes.
        unsafe { ptr::write_bytes(p.cast::<u8>(), 0, size) };
        self.buf = p.cast();
        self.buf_size = size;
        self.msg_size = msg_size;
        let access = ibv_access_flags::IBV_ACCESS_LOCAL_WRITE.0
            | ibv_access_flags::IBV_ACCESS_REMOTE_READ.0
            | ibv_access_flags::IBV_ACCESS_REMOTE_WRITE.0
            | ibv_access_flags::IBV_ACCESS_REMOTE_ATOMIC.0;
        // SAFETY: `pd` is live and the buffer outlives the MR (Drop order).
        self.mr = unsafe { ibv_reg_mr(self.pd, p, size, access as c_int) };
        if self.mr.is_null() {
            return Err(sys("failed to allocate memory region"));
        }
        // SAFETY: the MR is live.
        self.lnode.rkey = unsafe { (*self.mr).rkey };
        self.lnode.vaddr = self.buf as u64;
        Ok(self.lnode)
    }

    fn connect(&mut self, peer: &Node) -> Result<(), String> {
        self.rnode = *peer;
        let Some(ib) = self.ib.clone() else {
            return Ok(()); // CM connected the QP already
        };
        let port = ib.port as u8;
        use ibv_qp_attr_mask as m;
        // SAFETY: plain data; fields set below per transport.
        let mut rtr: ibv_qp_attr = unsafe { std::mem::zeroed() };
        rtr.qp_state = ibv_qp_state::IBV_QPS_RTR;
        rtr.path_mtu = ib.mtu;
        rtr.dest_qp_num = peer.qpn;
        rtr.rq_psn = peer.psn;
        rtr.min_rnr_timer = MIN_RNR_TIMER;
        rtr.max_dest_rd_atomic = self.lnode.rd_atomic as u8;
        rtr.ah_attr = self.ah_attr(peer.lid, port, ib.rate);
        // SAFETY: plain data; fields set below per transport.
        let mut rts: ibv_qp_attr = unsafe { std::mem::zeroed() };
        rts.qp_state = ibv_qp_state::IBV_QPS_RTS;
        rts.timeout = LOCAL_ACK_TIMEOUT;
        rts.retry_cnt = RETRY_CNT;
        rts.rnr_retry = RNR_RETRY_CNT;
        rts.sq_psn = self.lnode.psn;
        rts.max_rd_atomic = peer.rd_atomic as u8;
        rts.path_mig_state = ibv_mig_state::IBV_MIG_REARM;
        rts.alt_port_num = self.alt_port;
        rts.alt_ah_attr = self.ah_attr(peer.alt_lid, self.alt_port, ib.rate);
        let alt = if peer.alt_lid != 0 {
            m::IBV_QP_ALT_PATH.0 | m::IBV_QP_PATH_MIG_STATE.0
        } else {
            0
        };
        match self.qp_type {
            Qp::Ud => {
                self.modify(&mut rtr, m::IBV_QP_STATE.0, "failed to modify QP to RTR")?;
                let mask = m::IBV_QP_STATE.0 | m::IBV_QP_SQ_PSN.0;
                self.modify(&mut rts, mask, "failed to modify QP to RTS")?;
                let mut a = self.ah_attr(peer.lid, port, ib.rate);
                // SAFETY: `pd` is live; the AH is destroyed in Drop.
                self.ah = unsafe { ibv_create_ah(self.pd, &mut a) };
                if self.ah.is_null() {
                    return Err(sys("failed to create address handle"));
                }
            }
            Qp::Rc => {
                let mask = m::IBV_QP_STATE.0
                    | m::IBV_QP_AV.0
                    | m::IBV_QP_PATH_MTU.0
                    | m::IBV_QP_DEST_QPN.0
                    | m::IBV_QP_RQ_PSN.0
                    | m::IBV_QP_MAX_DEST_RD_ATOMIC.0
                    | m::IBV_QP_MIN_RNR_TIMER.0;
                self.modify(&mut rtr, mask, "failed to modify QP to RTR")?;
                let mask = m::IBV_QP_STATE.0
                    | m::IBV_QP_TIMEOUT.0
                    | m::IBV_QP_RETRY_CNT.0
                    | m::IBV_QP_RNR_RETRY.0
                    | m::IBV_QP_SQ_PSN.0
                    | m::IBV_QP_MAX_QP_RD_ATOMIC.0
                    | alt;
                self.modify(&mut rts, mask, "failed to modify QP to RTS")?;
            }
            Qp::Uc => {
                let mask = m::IBV_QP_STATE.0
                    | m::IBV_QP_AV.0
                    | m::IBV_QP_PATH_MTU.0
                    | m::IBV_QP_DEST_QPN.0
                    | m::IBV_QP_RQ_PSN.0;
                self.modify(&mut rtr, mask, "failed to modify QP to RTR")?;
                let mask = m::IBV_QP_STATE.0 | m::IBV_QP_SQ_PSN.0 | alt;
                self.modify(&mut rts, mask, "failed to modify QP to RTS")?;
            }
        }
        Ok(())
    }

    fn arm_events(&mut self) -> Result<(), String> {
        // SAFETY: `cq` is live.
        let r = unsafe { ibv_req_notify_cq(self.cq, 0) };
        if r != 0 {
            return Err(sys_code("failed to request CQ notification", r.abs()));
        }
        Ok(())
    }
}

impl Verbs for Device {
    fn post_send(&mut self, wr_id: u64, op: Op, offset: usize, len: usize) -> Result<(), String> {
        self.check_range(offset, len)?;
        // SAFETY: `mr` is live.
        let lkey = unsafe { (*self.mr).lkey };
        let mut sge = ibv_sge {
            // SAFETY: in bounds, checked above.
            addr: unsafe { self.buf.add(offset) } as u64,
            length: len as u32,
            lkey,
        };
        // SAFETY: plain data (null pointers, zero unions); filled below.
        let mut wr: ibv_send_wr = unsafe { std::mem::zeroed() };
        wr.wr_id = wr_id;
        wr.sg_list = &mut sge;
        wr.num_sge = 1;
        let mut flags = ibv_send_flags::IBV_SEND_SIGNALED.0;
        let inline = self.msg_size <= self.max_inline as usize;
        use ibv_wr_opcode::*;
        match op {
            Op::Send => {
                wr.opcode = IBV_WR_SEND;
                if self.qp_type == Qp::Ud {
                    wr.wr.ud = ud_t {
                        ah: self.ah,
                        remote_qpn: self.rnode.qpn,
                        remote_qkey: self.qkey,
                    };
                }
                if inline {
                    flags |= ibv_send_flags::IBV_SEND_INLINE.0;
                }
            }
            Op::RdmaWrite | Op::RdmaWriteImm | Op::RdmaRead => {
                wr.opcode = match op {
                    Op::RdmaWrite => IBV_WR_RDMA_WRITE,
                    Op::RdmaWriteImm => IBV_WR_RDMA_WRITE_WITH_IMM,
                    _ => IBV_WR_RDMA_READ,
                };
                wr.wr.rdma = rdma_t {
                    remote_addr: self.rnode.vaddr,
                    rkey: self.rnode.rkey,
                };
                if op != Op::RdmaRead && inline {
                    flags |= ibv_send_flags::IBV_SEND_INLINE.0;
                }
            }
            Op::CompareSwap { compare, swap } => {
                wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
                wr.wr.atomic = atomic_t {
                    remote_addr: self.rnode.vaddr,
                    compare_add: compare,
                    swap,
                    rkey: self.rnode.rkey,
                };
            }
            Op::FetchAdd { add } => {
                wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
                wr.wr.atomic = atomic_t {
                    remote_addr: self.rnode.vaddr,
                    compare_add: add,
                    swap: 0,
                    rkey: self.rnode.rkey,
                };
            }
        }
        wr.send_flags = flags;
        let mut bad = null_mut();
        // SAFETY: `qp` is live; `wr` and `sge` outlive the call (the
        // provider copies them); the buffer is registered and in bounds.
        let r = unsafe { ibv_post_send(self.qp, &mut wr, &mut bad) };
        if r != 0 {
            return Err(sys_code(
                &format!("failed to post {}", op.post_name()),
                r.abs(),
            ));
        }
        Ok(())
    }

    fn post_recv(&mut self) -> Result<(), String> {
        // SAFETY: `mr` is live.
        let lkey = unsafe { (*self.mr).lkey };
        let mut sge = ibv_sge {
            addr: self.buf as u64,
            length: self.buf_size as u32,
            lkey,
        };
        // SAFETY: plain data; filled below.
        let mut wr: ibv_recv_wr = unsafe { std::mem::zeroed() };
        wr.wr_id = super::verbs::WRID_RECV;
        wr.sg_list = &mut sge;
        wr.num_sge = 1;
        let mut bad = null_mut();
        // SAFETY: `qp` is live; the whole registered buffer receives.
        let r = unsafe { ibv_post_recv(self.qp, &mut wr, &mut bad) };
        if r != 0 {
            return Err(sys_code("failed to post receive", r.abs()));
        }
        Ok(())
    }

    fn wait_event(&mut self, fin: Fin) -> Result<bool, String> {
        // SAFETY: the channel is live.
        let fd = unsafe { (*self.channel).fd };
        loop {
            if fin() {
                return Ok(false);
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; 10 ms slices let us see the timer.
            if unsafe { libc::poll(&mut pfd, 1, 10) } <= 0 {
                continue;
            }
            let mut cq = null_mut();
            let mut cq_ctx = null_mut();
            // SAFETY: the channel is live and non-blocking.
            if unsafe { ibv_get_cq_event(self.channel, &mut cq, &mut cq_ctx) } != 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
                    continue;
                }
                if fin() {
                    return Ok(false);
                }
                return Err(sys("failed to get CQ event"));
            }
            if cq != self.cq {
                return Err("CQ event for unknown CQ".into());
            }
            // SAFETY: `cq` is live.
            let r = unsafe { ibv_req_notify_cq(self.cq, 0) };
            // SAFETY: one event of this CQ was taken above.
            unsafe { ibv_ack_cq_events(self.cq, 1) };
            if r != 0 {
                return Err(sys_code("failed to request CQ notification", r.abs()));
            }
            return Ok(true);
        }
    }

    fn poll_cq(&mut self, wc: &mut [Wc]) -> Result<usize, String> {
        let n = wc.len().min(NCQE);
        self.wcs.clear();
        // SAFETY: capacity NCQE was reserved; the provider writes at most
        // `n` entries and we set the length to what it reports.
        let got = unsafe { ibv_poll_cq(self.cq, n as c_int, self.wcs.as_mut_ptr()) };
        if got < 0 {
            return Err(sys("CQ poll failed"));
        }
        let got = got as usize;
        // SAFETY: the first `got` entries were initialised by ibv_poll_cq.
        unsafe { self.wcs.set_len(got) };
        for (d, s) in wc.iter_mut().zip(&self.wcs) {
            *d = Wc {
                wr_id: s.wr_id,
                status: s.status,
            };
        }
        Ok(got)
    }

    fn load(&self, off: usize) -> u8 {
        if off >= self.buf_size {
            return 0;
        }
        // SAFETY: in bounds; volatile because the device writes it.
        unsafe { ptr::read_volatile(self.buf.add(off)) }
    }

    fn store(&mut self, off: usize, v: u8) {
        if off < self.buf_size {
            // SAFETY: in bounds.
            unsafe { ptr::write_volatile(self.buf.add(off), v) };
        }
    }

    fn load_u64(&self, slot: usize) -> u64 {
        match slot.checked_mul(8).and_then(|o| o.checked_add(8)) {
            Some(end) if end <= self.buf_size => {}
            _ => return 0,
        }
        // SAFETY: in bounds and 8-aligned (page-aligned buffer).
        unsafe { ptr::read_volatile(self.buf.cast::<u64>().add(slot)) }
    }

    fn touch(&self, len: usize) {
        let mut x = 0u8;
        for i in 0..len.min(self.buf_size) {
            // SAFETY: in bounds.
            x ^= unsafe { ptr::read_volatile(self.buf.add(i)) };
        }
        std::hint::black_box(x);
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // Stock's order: CM disconnect (client first, both wait for the
        // DISCONNECTED event), QP, AH, MR, CQ, PD, channel, buffer, device.
        if let Some(cm) = &self.cm {
            if !cm.id.is_null() && !self.qp.is_null() {
                if self.role == Role::Client {
                    // SAFETY: `id` is connected.
                    unsafe { rdma_disconnect(cm.id) };
                }
                if let Ok(ev) =
                    Device::cm_expect(cm, rdma_cm_event_type::RDMA_CM_EVENT_DISCONNECTED)
                {
                    let _ = Device::cm_ack(ev);
                }
                // SAFETY: the QP was created on this id.
                unsafe { rdma_destroy_qp(cm.id) };
                self.qp = null_mut();
            }
        }
        // SAFETY: each handle is destroyed once, after everything using it.
        unsafe {
            if !self.qp.is_null() {
                ibv_destroy_qp(self.qp);
            }
            if !self.ah.is_null() {
                ibv_destroy_ah(self.ah);
            }
            if !self.mr.is_null() {
                ibv_dereg_mr(self.mr);
            }
            if !self.cq.is_null() {
                ibv_destroy_cq(self.cq);
            }
            if !self.pd.is_null() {
                ibv_dealloc_pd(self.pd);
            }
            if !self.channel.is_null() {
                ibv_destroy_comp_channel(self.channel);
            }
            if !self.buf.is_null() {
                libc::free(self.buf.cast());
            }
        }
        if let Some(cm) = self.cm.take() {
            // SAFETY: ids before their channel; each once.
            unsafe {
                if !cm.id.is_null() && cm.id != cm.listen {
                    rdma_destroy_id(cm.id);
                }
                if !cm.listen.is_null() {
                    rdma_destroy_id(cm.listen);
                }
                rdma_destroy_event_channel(cm.channel);
            }
        }
        // SAFETY: context, then the list it came from.
        unsafe {
            if !self.ctx.is_null() {
                ibv_close_device(self.ctx);
            }
            if !self.devlist.is_null() {
                ibv_free_device_list(self.devlist);
            }
        }
    }
}
