//! The client's parameter store (spec qperf.md §2.6): every parameter has a
//! local copy (used by this process) and a remote copy (sent in the REQ),
//! each with the bookkeeping stock keeps — who set it, whether any test ever
//! used it, whether the current test uses it — because that bookkeeping
//! drives the "set but not used" warnings and the `-vu` lines.

use crate::proto::Req;

/// One parameter (both copies share it), in stock's table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Par {
    AccessRecv,
    Affinity,
    AltPort,
    Flip,
    Id,
    MsgSize,
    MtuSize,
    NoMsgs,
    PollMode,
    Port,
    RdAtomic,
    Sl,
    SockBufSize,
    SrcPathBits,
    StaticRate,
    Time,
    Timeout,
    UseCm,
}

/// How a parameter is displayed by `-vu` (spec §6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Count,
    Size,
    Time,
    Str,
}

/// Every parameter in table order (the order of the unused-option check).
pub const ALL: [Par; 18] = [
    Par::AccessRecv,
    Par::Affinity,
    Par::AltPort,
    Par::Flip,
    Par::Id,
    Par::MsgSize,
    Par::MtuSize,
    Par::NoMsgs,
    Par::PollMode,
    Par::Port,
    Par::RdAtomic,
    Par::Sl,
    Par::SockBufSize,
    Par::SrcPathBits,
    Par::StaticRate,
    Par::Time,
    Par::Timeout,
    Par::UseCm,
];

impl Par {
    /// The displayed name, or `None` for static_rate (never displayed).
    pub fn display_name(self) -> Option<&'static str> {
        Some(match self {
            Par::AccessRecv => "access_recv",
            Par::Affinity => "affinity",
            Par::AltPort => "alt_port",
            Par::Flip => "flip",
            Par::Id => "id",
            Par::MsgSize => "msg_size",
            Par::MtuSize => "mtu_size",
            Par::NoMsgs => "no_msgs",
            Par::PollMode => "poll_mode",
            Par::Port => "port",
            Par::RdAtomic => "rd_atomic",
            Par::Sl => "service_level",
            Par::SockBufSize => "sock_buf_size",
            Par::SrcPathBits => "src_path_bits",
            Par::StaticRate => return None,
            Par::Time => "time",
            Par::Timeout => "timeout",
            Par::UseCm => "use_cm",
        })
    }

    pub fn kind(self) -> Kind {
        match self {
            Par::Id | Par::StaticRate => Kind::Str,
            Par::MsgSize | Par::MtuSize | Par::SockBufSize | Par::SrcPathBits => Kind::Size,
            Par::Time | Par::Timeout => Kind::Time,
            _ => Kind::Count,
        }
    }
}

/// Which copy of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Local,
    Remote,
}

/// Identifies the option entry that set a parameter; stock compares these
/// (string pointers into its option table) to print one warning per option.
pub type SetBy = usize;

/// One copy of one parameter.
#[derive(Clone, Debug, Default)]
pub struct Slot {
    pub num: u32,
    pub text: String,
    /// The option (table index and spelling) that last set it, if any.
    pub name: Option<(SetBy, &'static str)>,
    /// Set by the user and not yet reported as unused.
    pub set: bool,
    /// Consumed by some test of this invocation (sticky).
    pub used: bool,
    /// Consumed by the current test.
    pub inuse: bool,
}

/// Both copies of every parameter.
#[derive(Clone, Debug, Default)]
pub struct Params {
    slots: Vec<Slot>,
}

fn idx(p: Par, s: Side) -> usize {
    p as usize * 2 + usize::from(s == Side::Remote)
}

impl Params {
    pub fn new() -> Params {
        Params {
            slots: vec![Slot::default(); ALL.len() * 2],
        }
    }

    pub fn slot(&self, p: Par, s: Side) -> &Slot {
        &self.slots[idx(p, s)]
    }

    fn slot_mut(&mut self, p: Par, s: Side) -> &mut Slot {
        &mut self.slots[idx(p, s)]
    }

    pub fn num(&self, p: Par, s: Side) -> u32 {
        self.slot(p, s).num
    }

    /// Whether the user ever set this copy.
    pub fn is_set(&self, p: Par, s: Side) -> bool {
        self.slot(p, s).name.is_some()
    }

    /// The user sets a number (stock `setp_u32` with a name).
    pub fn user_num(&mut self, p: Par, s: Side, by: (SetBy, &'static str), v: u32) {
        let slot = self.slot_mut(p, s);
        slot.name = Some(by);
        slot.set = true;
        slot.num = v;
    }

    /// The user sets a string.
    pub fn user_text(&mut self, p: Par, s: Side, by: (SetBy, &'static str), v: &str) {
        let slot = self.slot_mut(p, s);
        slot.name = Some(by);
        slot.set = true;
        slot.text = v.to_string();
    }

    /// A test default: marks the copy used and assigns `v` unless the user
    /// set it (stock `setp_u32` without a name).
    pub fn default_num(&mut self, p: Par, s: Side, v: u32) {
        let slot = self.slot_mut(p, s);
        slot.used = true;
        slot.inuse = true;
        if slot.name.is_none() {
            slot.num = v;
        }
    }

    /// Assigns silently (no bookkeeping), like stock `setv_u32`.
    pub fn force_num(&mut self, p: Par, s: Side, v: u32) {
        self.slot_mut(p, s).num = v;
    }

    /// Marks a copy consumed by the current test.
    pub fn use_par(&mut self, p: Par, s: Side) {
        let slot = self.slot_mut(p, s);
        slot.used = true;
        slot.inuse = true;
    }

    /// Marks both copies consumed.
    pub fn use_both(&mut self, p: Par) {
        self.use_par(p, Side::Local);
        self.use_par(p, Side::Remote);
    }

    /// Assigns a default to both copies.
    pub fn default_both(&mut self, p: Par, v: u32) {
        self.default_num(p, Side::Local, v);
        self.default_num(p, Side::Remote, v);
    }

    /// Start of a test: nothing is in use yet.
    pub fn clear_inuse(&mut self) {
        for s in &mut self.slots {
            s.inuse = false;
        }
    }

    /// Options set by the user but never used: one spelling per option, in
    /// table order. Like stock, reporting clears the `set` mark of the later
    /// copies set by the same option, so each option is named once.
    pub fn take_unused(&mut self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            let (used, set, name) = {
                let s = &self.slots[i];
                (s.used, s.set, s.name)
            };
            if used || !set {
                continue;
            }
            let Some((by, spelling)) = name else { continue };
            out.push(spelling);
            for q in &mut self.slots[i + 1..] {
                if q.set && q.name.map(|n| n.0) == Some(by) {
                    q.set = false;
                }
            }
        }
        out
    }

    /// The REQ carrying one side's copies (version and index left to the caller).
    pub fn req(&self, s: Side) -> Req {
        let n = |p| self.num(p, s);
        Req {
            access_recv: n(Par::AccessRecv),
            affinity: n(Par::Affinity),
            alt_port: n(Par::AltPort),
            flip: n(Par::Flip),
            msg_size: n(Par::MsgSize),
            mtu_size: n(Par::MtuSize),
            no_msgs: n(Par::NoMsgs),
            poll_mode: n(Par::PollMode),
            port: n(Par::Port),
            rd_atomic: n(Par::RdAtomic),
            sl: n(Par::Sl),
            sock_buf_size: n(Par::SockBufSize),
            src_path_bits: n(Par::SrcPathBits),
            time: n(Par::Time),
            timeout: n(Par::Timeout),
            use_cm: n(Par::UseCm),
            id: self.slot(Par::Id, s).text.clone(),
            static_rate: self.slot(Par::StaticRate, s).text.clone(),
            ..Req::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_do_not_override_user_values() {
        let mut p = Params::new();
        p.user_num(Par::MsgSize, Side::Local, (1, "-m"), 5);
        p.default_both(Par::MsgSize, 65536);
        assert_eq!(p.num(Par::MsgSize, Side::Local), 5);
        assert_eq!(p.num(Par::MsgSize, Side::Remote), 65536);
        assert!(p.slot(Par::MsgSize, Side::Remote).used);
    }

    #[test]
    fn unused_reported_once_per_option() {
        let mut p = Params::new();
        p.user_num(Par::Sl, Side::Local, (7, "-sl"), 3);
        p.user_num(Par::Sl, Side::Remote, (7, "-sl"), 3);
        p.user_num(Par::SockBufSize, Side::Local, (8, "-lsb"), 3);
        p.user_num(Par::SockBufSize, Side::Remote, (9, "-rsb"), 3);
        assert_eq!(p.take_unused(), vec!["-sl", "-lsb", "-rsb"]);
        // The local copy stays marked: stock warns again for the next test.
        assert_eq!(p.take_unused(), vec!["-sl", "-lsb", "-rsb"]);
        p.use_both(Par::Sl);
        assert_eq!(p.take_unused(), vec!["-lsb", "-rsb"]);
    }

    #[test]
    fn req_copies_one_side() {
        let mut p = Params::new();
        p.user_num(Par::Port, Side::Remote, (1, "-ip"), 70000);
        p.user_text(Par::Id, Side::Remote, (2, "-ri"), "mlx5_0:1");
        let r = p.req(Side::Remote);
        assert_eq!(r.port, 70000);
        assert_eq!(r.id, "mlx5_0:1");
        assert_eq!(p.req(Side::Local).port, 0);
    }
}
