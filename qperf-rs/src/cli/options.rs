//! The option table (spec qperf.md §2.1) and the obsolete spellings that are
//! translated with a warning (§2.1.1). Table order matters: `-oo` variables
//! match the first entry whose name (without its dashes) is equal.

use crate::params::Par;

/// What an option does with its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Int,
    /// No argument; sets the value 1.
    Set1,
    Size,
    Time,
    Str,
    Sl,
    Debug,
    Help,
    Host,
    Loop,
    ListenPort,
    Precision,
    UnifyNodes,
    UnifyUnits,
    BitsPerSec,
    /// `-v`: raises every level to at least 1.
    Verbose,
    /// One verbose class assigned a level.
    VerboseClass(Class, u8),
    /// `-vv`: every level := 2.
    VerboseMore,
    Version,
    Wait,
    /// `--single_port` (our extension): the data connection goes to `-lp`.
    SinglePort,
    /// `--percentiles` (ours): latency percentiles of the `_lat` tests.
    Percentiles,
    /// `-P N` / `--streams N` (ours): parallel data connections.
    Streams,
    /// `--cgroup_cpu` (ours): CPU use of our cgroup.
    CgroupCpu,
    /// `--json FILE` (ours): every test of the run as one JSON document.
    Json,
}

/// The four verbose classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Conf,
    Stat,
    Time,
    Used,
}

/// Which parameter copies an option writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    None,
    Both(Par),
    Local(Par),
    Remote(Par),
}

/// One entry of the table.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub name: &'static str,
    pub arg: Arg,
    pub target: Target,
    /// Allowed without switching to client mode.
    pub server: bool,
}

const fn o(name: &'static str, arg: Arg, target: Target) -> Opt {
    Opt {
        name,
        arg,
        target,
        server: false,
    }
}

const fn srv(name: &'static str, arg: Arg, target: Target) -> Opt {
    Opt {
        name,
        arg,
        target,
        server: true,
    }
}

use Arg::*;
use Class as C;
use Par as P;
use Target::{Both as B, Local as L, None as N, Remote as R};

/// Every option, in stock's table order.
pub const OPTIONS: &[Opt] = &[
    o("--access_recv", Int, B(P::AccessRecv)),
    o("-ar", Int, B(P::AccessRecv)),
    o("-ar1", Set1, B(P::AccessRecv)),
    o("--alt_port", Int, B(P::AltPort)),
    o("-ap", Int, B(P::AltPort)),
    o("--loc_alt_port", Int, L(P::AltPort)),
    o("-lap", Int, L(P::AltPort)),
    o("--rem_alt_port", Int, R(P::AltPort)),
    o("-rap", Int, R(P::AltPort)),
    o("--cpu_affinity", Int, B(P::Affinity)),
    o("-ca", Int, B(P::Affinity)),
    o("--loc_cpu_affinity", Int, L(P::Affinity)),
    o("-lca", Int, L(P::Affinity)),
    o("--rem_cpu_affinity", Int, R(P::Affinity)),
    o("-rca", Int, R(P::Affinity)),
    srv("--debug", Debug, N),
    srv("-D", Debug, N),
    o("--flip", Int, B(P::Flip)),
    o("-f", Int, B(P::Flip)),
    o("-f1", Set1, B(P::Flip)),
    o("--help", Help, N),
    o("-h", Help, N),
    o("--host", Host, N),
    o("-H", Host, N),
    o("--id", Str, B(P::Id)),
    o("-i", Str, B(P::Id)),
    o("--loc_id", Str, L(P::Id)),
    o("-li", Str, L(P::Id)),
    o("--rem_id", Str, R(P::Id)),
    o("-ri", Str, R(P::Id)),
    srv("--listen_port", ListenPort, N),
    srv("-lp", ListenPort, N),
    o("--loop", Loop, N),
    o("-oo", Loop, N),
    o("--msg_size", Size, B(P::MsgSize)),
    o("-m", Size, B(P::MsgSize)),
    o("--mtu_size", Size, B(P::MtuSize)),
    o("-mt", Size, B(P::MtuSize)),
    o("--no_msgs", Int, B(P::NoMsgs)),
    o("-n", Int, B(P::NoMsgs)),
    o("--cq_poll", Int, B(P::PollMode)),
    o("-cp", Int, B(P::PollMode)),
    o("-cp1", Set1, B(P::PollMode)),
    o("--loc_cq_poll", Int, L(P::PollMode)),
    o("-lcp", Int, L(P::PollMode)),
    o("-lcp1", Set1, L(P::PollMode)),
    o("--rem_cq_poll", Int, R(P::PollMode)),
    o("-rcp", Int, R(P::PollMode)),
    o("-rcp1", Set1, R(P::PollMode)),
    o("--ip_port", Int, B(P::Port)),
    o("-ip", Int, B(P::Port)),
    o("--precision", Precision, N),
    o("-e", Precision, N),
    o("--rd_atomic", Int, B(P::RdAtomic)),
    o("-nr", Int, B(P::RdAtomic)),
    o("--loc_rd_atomic", Int, L(P::RdAtomic)),
    o("-lnr", Int, L(P::RdAtomic)),
    o("--rem_rd_atomic", Int, R(P::RdAtomic)),
    o("-rnr", Int, R(P::RdAtomic)),
    o("--service_level", Sl, B(P::Sl)),
    o("-sl", Sl, B(P::Sl)),
    o("--loc_service_level", Sl, L(P::Sl)),
    o("-lsl", Sl, L(P::Sl)),
    o("--rem_service_level", Sl, R(P::Sl)),
    o("-rsl", Sl, R(P::Sl)),
    o("--sock_buf_size", Size, B(P::SockBufSize)),
    o("-sb", Size, B(P::SockBufSize)),
    o("--loc_sock_buf_size", Size, L(P::SockBufSize)),
    o("-lsb", Size, L(P::SockBufSize)),
    o("--rem_sock_buf_size", Size, R(P::SockBufSize)),
    o("-rsb", Size, R(P::SockBufSize)),
    o("--src_path_bits", Size, B(P::SrcPathBits)),
    o("-sp", Size, B(P::SrcPathBits)),
    o("--loc_src_path_bits", Size, L(P::SrcPathBits)),
    o("-lsp", Size, L(P::SrcPathBits)),
    o("--rem_src_path_bits", Size, R(P::SrcPathBits)),
    o("-rsp", Size, R(P::SrcPathBits)),
    o("--static_rate", Str, B(P::StaticRate)),
    o("-sr", Str, B(P::StaticRate)),
    o("--loc_static_rate", Str, L(P::StaticRate)),
    o("-lsr", Str, L(P::StaticRate)),
    o("--rem_static_rate", Str, R(P::StaticRate)),
    o("-rsr", Str, R(P::StaticRate)),
    o("--time", Time, B(P::Time)),
    o("-t", Time, B(P::Time)),
    o("--timeout", Time, B(P::Timeout)),
    o("-to", Time, B(P::Timeout)),
    srv("--loc_timeout", Time, L(P::Timeout)),
    srv("-lto", Time, L(P::Timeout)),
    o("--rem_timeout", Time, R(P::Timeout)),
    o("-rto", Time, R(P::Timeout)),
    o("--unify_nodes", UnifyNodes, N),
    o("-un", UnifyNodes, N),
    o("--unify_units", UnifyUnits, N),
    o("-uu", UnifyUnits, N),
    o("--use_bits_per_sec", BitsPerSec, N),
    o("-ub", BitsPerSec, N),
    o("--use_cm", Int, B(P::UseCm)),
    o("-cm", Int, B(P::UseCm)),
    o("-cm1", Set1, B(P::UseCm)),
    o("--verbose", Verbose, N),
    o("-v", Verbose, N),
    o("--verbose_conf", VerboseClass(C::Conf, 1), N),
    o("-vc", VerboseClass(C::Conf, 1), N),
    o("--verbose_stat", VerboseClass(C::Stat, 1), N),
    o("-vs", VerboseClass(C::Stat, 1), N),
    o("--verbose_time", VerboseClass(C::Time, 1), N),
    o("-vt", VerboseClass(C::Time, 1), N),
    o("--verbose_used", VerboseClass(C::Used, 1), N),
    o("-vu", VerboseClass(C::Used, 1), N),
    o("--verbose_more", VerboseMore, N),
    o("-vv", VerboseMore, N),
    o("--verbose_more_conf", VerboseClass(C::Conf, 2), N),
    o("-vvc", VerboseClass(C::Conf, 2), N),
    o("--verbose_more_stat", VerboseClass(C::Stat, 2), N),
    o("-vvs", VerboseClass(C::Stat, 2), N),
    o("--verbose_more_time", VerboseClass(C::Time, 2), N),
    o("-vvt", VerboseClass(C::Time, 2), N),
    o("--verbose_more_used", VerboseClass(C::Used, 2), N),
    o("-vvu", VerboseClass(C::Used, 2), N),
    o("--version", Version, N),
    o("-V", Version, N),
    o("--wait_server", Wait, N),
    o("-ws", Wait, N),
    // Our extensions (not in stock; after stock's entries so `-oo` names
    // keep matching stock's first).  `-sp` is stock's --src_path_bits.
    o("--single_port", SinglePort, N),
    o("-sip", SinglePort, N),
    // Our extensions (not in stock; see the README).
    o("--percentiles", Percentiles, N),
    o("--streams", Streams, N),
    o("-P", Streams, N),
    o("--cgroup_cpu", CgroupCpu, N),
    o("--json", Json, N),
];

/// Obsolete spelling → current spelling.
pub const RENAMED: &[(&str, &str)] = &[
    ("--affinity", "--cpu_affinity"),
    ("-a", "-ca"),
    ("--loc_affinity", "--loc_cpu_affinity"),
    ("-la", "-lca"),
    ("--rem_affinity", "--rem_cpu_affinity"),
    ("-ra", "-rca"),
    ("--rate", "--static_rate"),
    ("-r", "-sr"),
    ("--loc_rate", "--loc_static_rate"),
    ("-lr", "-lsr"),
    ("--rem_rate", "--rem_static_rate"),
    ("-rr", "-rsr"),
    ("--port", "--ip_port"),
    ("-p", "-ip"),
    ("--poll", "--cq_poll"),
    // Stock's obsolete `-P` (= `-cp`) is our `-P N` (streams), as the
    // parallel-stream option of other tools.
    ("--loc_poll", "--loc_cq_poll"),
    ("-lP", "-lcp"),
    ("--rem_poll", "--rem_cq_poll"),
    ("-rP", "-rcp"),
    ("-R", "-nr"),
    ("-lR", "-lnr"),
    ("-rR", "-rnr"),
    ("-T", "-to"),
    ("-lT", "-lto"),
    ("-rT", "-rto"),
    ("-S", "-sb"),
    ("-lS", "-lsb"),
    ("-rS", "-rsb"),
    ("--wait", "--wait_server"),
    ("-W", "-ws"),
    ("-vC", "-vvc"),
    ("-vS", "-vvs"),
    ("-vT", "-vvt"),
    ("-vU", "-vvu"),
    ("-aro", "-ar1"),
    ("-cmo", "-cm1"),
    ("-fo", "-f1"),
    ("-cpo", "-cp1"),
    ("-lcpo", "-lcp1"),
    ("-rcpo", "-rcp1"),
    ("-Ar", "-ar"),
    ("-M", "-mt"),
    ("-u", "-uu"),
];

/// Result of looking an option word up.
pub struct Found {
    /// Index into [`OPTIONS`].
    pub index: usize,
    /// `Some(warning)` when an obsolete spelling was translated.
    pub warning: Option<String>,
}

/// Looks an option word up (after translating an obsolete spelling).
/// The warning is produced even when the translated name is then unknown
/// (it never is, but stock would print it too).
pub fn find(word: &str) -> (Option<usize>, Option<String>) {
    let mut name = word;
    let mut warning = None;
    if let Some(&(old, new)) = RENAMED.iter().find(|(old, _)| *old == word) {
        warning = Some(format!(
            "warning: obsolete option: {old}; use {new} instead"
        ));
        name = new;
    }
    (OPTIONS.iter().position(|o| o.name == name), warning)
}

/// Finds a `-oo` variable: the first option whose name without its leading
/// `-` or `--` equals `var`.
pub fn find_loop_var(var: &str) -> Option<usize> {
    OPTIONS.iter().position(|o| {
        let n = o.name.strip_prefix('-').unwrap_or(o.name);
        let n = n.strip_prefix('-').unwrap_or(n);
        n == var
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let (i, w) = find("-a");
        assert_eq!(OPTIONS[i.unwrap()].name, "-ca");
        assert_eq!(
            w.as_deref(),
            Some("warning: obsolete option: -a; use -ca instead")
        );
        assert!(find("-lm").0.is_none());
        assert!(find("--msg_size=5").0.is_none());
        assert_eq!(
            OPTIONS[find_loop_var("msg_size").unwrap()].name,
            "--msg_size"
        );
        assert_eq!(OPTIONS[find_loop_var("m").unwrap()].name, "-m");
        assert_eq!(OPTIONS[find_loop_var("t").unwrap()].name, "-t");
        assert!(find_loop_var("nope").is_none());
        assert_eq!(OPTIONS[find("-P").0.unwrap()].arg, Arg::Streams);
        assert!(find("-P").1.is_none());
        // Every renamed target exists.
        for (_, new) in RENAMED {
            assert!(OPTIONS.iter().any(|o| o.name == *new), "{new}");
        }
    }
}
