//! `--help TOPIC` texts (spec qperf.md §2.3). Same topics, same options and
//! tests listed as stock qperf 0.4.11 (including the XRC tests, which have
//! help although they cannot run), in our own wording. Test topics are
//! generated from one table so their layout stays uniform.

use std::sync::OnceLock;

use crate::tests_table::{HELP_ONLY, TESTS};

/// The version we claim (wire and `--version`).
pub const VERSION: &str = "0.4.11";

const MAIN: &str = "\
Synopsis
    qperf
    qperf SERVERNODE [OPTIONS] TESTS

Description
    qperf measures bandwidth and latency between two nodes, over TCP/IP
    sockets as well as over RDMA transports.  Start it without arguments
    on one node: that node becomes the server.  Then run it on another
    node with the server's name followed by one or more test names; the
    results (bandwidth, latency, cpu use and more) are printed per test.
    Options may be placed between the tests and apply to the tests that
    follow them.  See the TESTS section for the available tests.

    More help is available through the --help option:

        qperf --help examples       Example command lines
        qperf --help opts           One line per option
        qperf --help options        Every option explained
        qperf --help tests          The list of tests
        qperf --help TESTNAME       Details of test TESTNAME
";

const AUTHOR: &str =
    "qperf was originally written by Johann George; this is a compatible reimplementation.\n";

const BUGS: &str = "\
The RDMA tests need the RDMA libraries and a device; the XRC tests are
not part of this build.  The -f (flip) option has no effect in most
tests.
";

const EXAMPLES: &str = "\
All examples assume that qperf was started without arguments (server
mode) on a node named myserver, and that the commands below run on a
second node.
    * TCP bandwidth, then TCP latency:
        qperf myserver tcp_bw tcp_lat
    * SDP bandwidth measured for 10 seconds:
        qperf myserver -t 10 sdp_bw
    * UDP latency, then stop the server:
        qperf myserver udp_lat quit
    * RDMA UD latency and bandwidth:
        qperf myserver ud_lat ud_bw
    * RDMA RC bandwidth in both directions at once:
        qperf myserver rc_bi_bw
    * TCP latency for message sizes 1, 2, 4, ... 64K:
        qperf myserver -oo msg_size:1:64K:*2 -vu tcp_lat
";

/// One option of the `opts` summary: (spelling with argument, text, indent).
const OPTS: &[(&str, &str, usize)] = &[
    (
        "--access_recv OnOff (-ar)",
        "Read (1) or ignore (0) received data",
        0,
    ),
    ("-ar1", "Read received data", 2),
    ("--alt_port Port (-ap)", "Alternate path port", 0),
    ("--loc_alt_port Port (-lap)", "Local alternate path port", 2),
    (
        "--rem_alt_port Port (-rap)",
        "Remote alternate path port",
        2,
    ),
    (
        "--cpu_affinity PN (-ca)",
        "Run on processor PN (1 = first)",
        0,
    ),
    ("--loc_cpu_affinity PN (-lca)", "Local processor", 2),
    ("--rem_cpu_affinity PN (-rca)", "Remote processor", 2),
    ("--debug (-D)", "Trace what happens on stderr", 0),
    ("--flip OnOff (-f)", "Swap sender and receiver", 0),
    ("-f1", "Swap sender and receiver", 2),
    ("--help Topic (-h)", "Help on Topic", 0),
    ("--host Node (-H)", "Name the server node", 0),
    ("--id Device:Port (-i)", "RDMA device and port", 0),
    (
        "--loc_id Device:Port (-li)",
        "Local RDMA device and port",
        2,
    ),
    (
        "--rem_id Device:Port (-ri)",
        "Remote RDMA device and port",
        2,
    ),
    ("--listen_port Port (-lp)", "Control port of the server", 0),
    (
        "--loop Var:Init:Last:Incr (-oo)",
        "Repeat the tests over a range",
        0,
    ),
    ("--msg_size Size (-m)", "Message size", 0),
    ("--mtu_size Size (-mt)", "MTU size (RDMA)", 0),
    ("--no_msgs Count (-n)", "Number of messages to send", 0),
    (
        "--cq_poll OnOff (-cp)",
        "Poll (1) or wait for events (0)",
        0,
    ),
    ("--loc_cq_poll OnOff (-lcp)", "Local polling mode", 2),
    ("--rem_cq_poll OnOff (-rcp)", "Remote polling mode", 2),
    ("-cp1", "Poll", 2),
    ("-lcp1", "Poll locally", 2),
    ("-rcp1", "Poll remotely", 2),
    ("--ip_port Port (-ip)", "Data port for socket tests", 0),
    ("--precision Digits (-e)", "Significant digits shown", 0),
    ("--rd_atomic Max (-nr)", "Outstanding RDMA reads/atomics", 0),
    (
        "--loc_rd_atomic Max (-lnr)",
        "Local outstanding reads/atomics",
        2,
    ),
    (
        "--rem_rd_atomic Max (-rnr)",
        "Remote outstanding reads/atomics",
        2,
    ),
    ("--service_level SL (-sl)", "InfiniBand service level", 0),
    ("--loc_service_level SL (-lsl)", "Local service level", 2),
    ("--rem_service_level SL (-rsl)", "Remote service level", 2),
    ("--sock_buf_size Size (-sb)", "Socket buffer size", 0),
    (
        "--loc_sock_buf_size Size (-lsb)",
        "Local socket buffer size",
        2,
    ),
    (
        "--rem_sock_buf_size Size (-rsb)",
        "Remote socket buffer size",
        2,
    ),
    ("--src_path_bits num (-sp)", "Source path bits", 0),
    (
        "--loc_src_path_bits num (-lsp)",
        "Local source path bits",
        2,
    ),
    (
        "--rem_src_path_bits num (-rsp)",
        "Remote source path bits",
        2,
    ),
    ("--static_rate Rate (-sr)", "InfiniBand static rate", 0),
    ("--loc_static_rate Rate (-lsr)", "Local static rate", 2),
    ("--rem_static_rate Rate (-rsr)", "Remote static rate", 2),
    ("--time Time (-t)", "Test duration", 0),
    ("--timeout Time (-to)", "Timeout for each message", 0),
    ("--loc_timeout Time (-lto)", "Local timeout", 2),
    ("--rem_timeout Time (-rto)", "Remote timeout", 2),
    (
        "--unify_nodes (-un)",
        "Show loc_/rem_ figures for both nodes",
        0,
    ),
    ("--unify_units (-uu)", "Show raw numbers in base units", 0),
    ("--use_bits_per_sec (-ub)", "Bandwidth in bits/sec", 0),
    ("--use_cm OnOff (-cm)", "Use the RDMA connection manager", 0),
    ("-cm1", "Use the RDMA connection manager", 2),
    ("--verbose (-v)", "All of -vc -vs -vt -vu", 0),
    ("--verbose_conf (-vc)", "Configuration details", 2),
    ("--verbose_stat (-vs)", "Statistics", 2),
    ("--verbose_time (-vt)", "Timing", 2),
    ("--verbose_used (-vu)", "Parameters that were set", 2),
    ("--verbose_more (-vv)", "All of -vvc -vvs -vvt -vvu", 2),
    (
        "--verbose_more_conf (-vvc)",
        "More configuration details",
        2,
    ),
    ("--verbose_more_stat (-vvs)", "More statistics", 2),
    ("--verbose_more_time (-vvt)", "More timing", 2),
    ("--verbose_more_used (-vvu)", "All parameters used", 2),
    ("--version (-V)", "Print the version", 0),
    (
        "--wait_server Time (-ws)",
        "How long to retry connecting",
        0,
    ),
    // Our extension, not in stock.
    ("--single_port (-sip)", "Data connection to the -lp port", 0),
    ("--percentiles", "Latency percentiles (qperf-rs)", 0),
    (
        "--streams N (-P)",
        "Parallel data connections (qperf-rs)",
        0,
    ),
    ("--cgroup_cpu", "CPU use of our cgroup (qperf-rs)", 0),
    ("--json File", "Write every test as JSON (qperf-rs)", 0),
];

/// Long explanations for the `options` topic: (option, text).
const OPTION_TEXT: &[(&str, &str)] = &[
    ("--access_recv OnOff (-ar)", "With 1, the receiver reads every received word, as an application would.  -ar1 is the same as -ar 1."),
    ("--alt_port Port (-ap)", "Port for an alternate (failover) path; --loc_alt_port (-lap) and --rem_alt_port (-rap) set one side only."),
    ("--cpu_affinity PN (-ca)", "Pin the test to processor PN, counting from 1; 0 means no pinning.  --loc_cpu_affinity (-lca) and --rem_cpu_affinity (-rca) set one side only."),
    ("--debug (-D)", "Print a trace of the protocol steps on stderr."),
    ("--flip OnOff (-f)", "Swap the roles of sender and receiver (-f1 = -f 1); most tests ignore it."),
    ("--help Topic (-h)", "Show help on Topic; qperf --help categories lists the topics."),
    ("--host Node (-H)", "The server node, as an alternative to giving it as the first word."),
    ("--id Device:Port (-i)", "RDMA device and port to use; --loc_id (-li) and --rem_id (-ri) set one side only."),
    ("--listen_port Port (-lp)", "The server's control port (default 19765); give the same value to server and client."),
    ("--loop Var:Init:Last:Incr (-oo)", "Run the following tests with Var set to Init, then increased by Incr (or multiplied, when Incr starts with *) while it stays at most Last.  Var defaults to msg_size."),
    ("--msg_size Size (-m)", "Message size; sizes take the suffixes k, m, g (powers of 1000) and K, M, G, kib, mib, gib (powers of 1024)."),
    ("--mtu_size Size (-mt)", "MTU of RDMA tests: 256, 512, 1K, 2K or 4K."),
    ("--no_msgs Count (-n)", "Send Count messages instead of running for a time (RDMA bandwidth tests)."),
    ("--cq_poll OnOff (-cp)", "Poll the completion queue instead of waiting for events; -cp1, -lcp, -rcp, -lcp1, -rcp1 are variants."),
    ("--ip_port Port (-ip)", "Fixed data port for socket tests (default: any free port)."),
    ("--precision Digits (-e)", "Number of significant digits in the results (default 3)."),
    ("--rd_atomic Max (-nr)", "Outstanding RDMA reads and atomics; -lnr and -rnr set one side only."),
    ("--service_level SL (-sl)", "InfiniBand service level 0..15; -lsl and -rsl set one side only."),
    ("--sock_buf_size Size (-sb)", "Socket send and receive buffer size; -lsb and -rsb set one side only."),
    ("--src_path_bits num (-sp)", "Source path bits (LMC); -lsp and -rsp set one side only."),
    ("--static_rate Rate (-sr)", "InfiniBand static rate such as 10, 40 or 4xQDR; -lsr and -rsr set one side only."),
    ("--time Time (-t)", "Duration of each test (default 2 seconds); times take the suffixes s, m, h, d."),
    ("--timeout Time (-to)", "How long to wait for each control message (default 5 seconds); --loc_timeout (-lto) and --rem_timeout (-rto) set one side only."),
    ("--unify_nodes (-un)", "Show the figures of both nodes as loc_ and rem_ lines."),
    ("--unify_units (-uu)", "Show every figure in its base unit, unscaled and without commas."),
    ("--use_bits_per_sec (-ub)", "Show bandwidth in bits per second."),
    ("--use_cm OnOff (-cm)", "Connect RDMA tests through the connection manager (-cm1 = -cm 1)."),
    ("--verbose (-v)", "More output: -vc configuration, -vs statistics, -vt timing, -vu parameters set; -vv and -vvc, -vvs, -vvt, -vvu show even more."),
    ("--version (-V)", "Print the version and exit."),
    ("--wait_server Time (-ws)", "How long to keep retrying to reach the server (default 5 seconds)."),
    ("--single_port (-sip)", "Extension of qperf-rs: connect the data connection to the -lp port instead of the port the server announces, so socket tests work through a NAT or NodePort that translates the port.  Needs a qperf-rs server, which takes data on its listen port when -ip is not given."),
    ("--percentiles", "qperf-rs extension: after the results of every _lat socket test, the p50, p90, p99, p99.9 and max of the one-way latency (half of each round trip) as the client measured it, and as the server measured it when the server is qperf-rs too."),
    ("--streams N (-P)", "qperf-rs extension: run tcp_bw and udp_bw over N parallel data connections (1 to 64; needs a qperf-rs server); the summed figures come first as usual, then one line per stream.  Stock's obsolete -P (for -cp) is not accepted."),
    ("--cgroup_cpu", "qperf-rs extension: also show the CPU use of this process's cgroup (cgroup v2 cpu.stat, v1 cpuacct), and of the server's when it is qperf-rs, beside the host-wide loc_cpus_used and rem_cpus_used."),
    ("--json File", "qperf-rs extension: write every test of the run (command line, parameters, every figure in base units, percentiles, errors) to File as one JSON document; the output is unchanged."),
];

/// Help data of one test: purpose, common options, other options, text.
struct TestHelp {
    name: &'static str,
    purpose: &'static str,
    common: &'static [&'static str],
    other: &'static [&'static str],
    text: &'static str,
}

const SOCK_BW: &[&str] = &[
    "--access_recv",
    "--cpu_affinity",
    "--msg_size",
    "--sock_buf_size",
    "--time",
];
const SOCK_LAT: &[&str] = &["--cpu_affinity", "--msg_size", "--sock_buf_size", "--time"];
const SOCK_OTHER: &[&str] = &["--listen_port", "--ip_port", "--timeout"];
const RD_BW: &[&str] = &["--access_recv", "--id", "--msg_size", "--cq_poll", "--time"];
const RD_LAT: &[&str] = &["--id", "--msg_size", "--cq_poll", "--time"];
const RD_POLL: &[&str] = &["--id", "--msg_size", "--time"];
const RD_ATOM: &[&str] = &["--id", "--cq_poll", "--time"];
const RD_OTHER: &[&str] = &[
    "--cpu_affinity",
    "--listen_port",
    "--mtu_size",
    "--static_rate",
    "--timeout",
];
const RD_OTHER_AT: &[&str] = &[
    "--cpu_affinity",
    "--listen_port",
    "--mtu_size",
    "--rd_atomic",
    "--static_rate",
    "--timeout",
];
const RD_OTHER_VER: &[&str] = &[
    "--cpu_affinity",
    "--listen_port",
    "--msg_size",
    "--mtu_size",
    "--rd_atomic",
    "--static_rate",
    "--timeout",
];

const STREAM: &str = "The client sends messages back to back; the server counts what it receives.";
const PINGPONG: &str = "The client sends a message and waits for the server to send it back, over and over; half the round trip time is reported.";
const BI: &str = "Both nodes send and receive messages at the same time.";

macro_rules! t {
    ($n:literal, $p:literal, $c:expr, $o:expr, $t:expr) => {
        TestHelp {
            name: $n,
            purpose: $p,
            common: $c,
            other: $o,
            text: $t,
        }
    };
}

const TEST_HELP: &[TestHelp] = &[
    t!(
        "conf",
        "Show configuration",
        &[],
        &[],
        "Prints node name, processors, operating system and qperf version of both nodes."
    ),
    t!("quit", "Quit", &[], &[], "Makes the server exit."),
    t!(
        "rds_bw",
        "RDS streaming one way bandwidth",
        SOCK_BW,
        SOCK_OTHER,
        STREAM
    ),
    t!(
        "rds_lat",
        "RDS one way latency",
        SOCK_LAT,
        SOCK_OTHER,
        PINGPONG
    ),
    t!(
        "sctp_bw",
        "SCTP streaming one way bandwidth",
        SOCK_BW,
        SOCK_OTHER,
        STREAM
    ),
    t!(
        "sctp_lat",
        "SCTP one way latency",
        SOCK_LAT,
        SOCK_OTHER,
        PINGPONG
    ),
    t!(
        "sdp_bw",
        "SDP streaming one way bandwidth",
        SOCK_BW,
        SOCK_OTHER,
        STREAM
    ),
    t!(
        "sdp_lat",
        "SDP one way latency",
        SOCK_LAT,
        SOCK_OTHER,
        PINGPONG
    ),
    t!(
        "tcp_bw",
        "TCP streaming one way bandwidth",
        SOCK_BW,
        SOCK_OTHER,
        STREAM
    ),
    t!(
        "tcp_lat",
        "TCP one way latency",
        SOCK_LAT,
        SOCK_OTHER,
        PINGPONG
    ),
    t!(
        "udp_bw",
        "UDP streaming one way bandwidth",
        SOCK_BW,
        SOCK_OTHER,
        "The client sends datagrams back to back; send and receive rates are both reported."
    ),
    t!(
        "udp_lat",
        "UDP one way latency",
        SOCK_LAT,
        SOCK_OTHER,
        PINGPONG
    ),
    t!(
        "rc_bi_bw",
        "RC streaming two way bandwidth",
        RD_BW,
        RD_OTHER,
        BI
    ),
    t!(
        "rc_bw",
        "RC streaming one way bandwidth",
        RD_BW,
        RD_OTHER,
        STREAM
    ),
    t!(
        "rc_compare_swap_mr",
        "RC compare and swap messaging rate",
        RD_ATOM,
        RD_OTHER_AT,
        "The client issues compare and swap operations on server memory as fast as it can."
    ),
    t!(
        "rc_fetch_add_mr",
        "RC fetch and add messaging rate",
        RD_ATOM,
        RD_OTHER_AT,
        "The client issues fetch and add operations on server memory as fast as it can."
    ),
    t!("rc_lat", "RC one way latency", RD_LAT, RD_OTHER, PINGPONG),
    t!(
        "rc_rdma_read_bw",
        "RC RDMA read streaming one way bandwidth",
        RD_BW,
        RD_OTHER_AT,
        "The client reads server memory with RDMA reads, many in flight."
    ),
    t!(
        "rc_rdma_read_lat",
        "RC RDMA read one way latency",
        RD_LAT,
        RD_OTHER,
        "The client reads server memory with one RDMA read at a time."
    ),
    t!(
        "rc_rdma_write_bw",
        "RC RDMA write streaming one way bandwidth",
        RD_LAT,
        RD_OTHER,
        "The client writes server memory with RDMA writes with immediate data."
    ),
    t!(
        "rc_rdma_write_lat",
        "RC RDMA write one way latency",
        RD_LAT,
        RD_OTHER,
        "Both nodes take turns writing the other's memory with RDMA writes with immediate data."
    ),
    t!(
        "rc_rdma_write_poll_lat",
        "RC RDMA write one way polling latency",
        RD_POLL,
        RD_OTHER,
        "Both nodes take turns writing the other's memory; arrival is detected by polling memory, so --cq_poll does not matter."
    ),
    t!(
        "uc_bi_bw",
        "UC streaming two way bandwidth",
        RD_BW,
        RD_OTHER,
        BI
    ),
    t!(
        "uc_bw",
        "UC streaming one way bandwidth",
        RD_BW,
        RD_OTHER,
        STREAM
    ),
    t!("uc_lat", "UC one way latency", RD_LAT, RD_OTHER, PINGPONG),
    t!(
        "uc_rdma_write_bw",
        "UC RDMA write streaming one way bandwidth",
        RD_LAT,
        RD_OTHER,
        "The client writes server memory with RDMA writes with immediate data."
    ),
    t!(
        "uc_rdma_write_lat",
        "UC RDMA write one way latency",
        RD_LAT,
        RD_OTHER,
        "Both nodes take turns writing the other's memory with RDMA writes with immediate data."
    ),
    t!(
        "uc_rdma_write_poll_lat",
        "UC RDMA write one way polling latency",
        RD_POLL,
        RD_OTHER,
        "Both nodes take turns writing the other's memory; arrival is detected by polling memory, so --cq_poll does not matter."
    ),
    t!(
        "ud_bi_bw",
        "UD streaming two way bandwidth",
        RD_BW,
        RD_OTHER,
        BI
    ),
    t!(
        "ud_bw",
        "UD streaming one way bandwidth",
        RD_BW,
        RD_OTHER,
        STREAM
    ),
    t!("ud_lat", "UD one way latency", RD_LAT, RD_OTHER, PINGPONG),
    t!(
        "ver_rc_compare_swap",
        "Verify RC compare and swap",
        RD_ATOM,
        RD_OTHER_VER,
        "Runs compare and swap operations and checks every returned value."
    ),
    t!(
        "ver_rc_fetch_add",
        "Verify RC fetch and add",
        RD_ATOM,
        RD_OTHER_VER,
        "Runs fetch and add operations and checks every returned value."
    ),
    t!(
        "xrc_bi_bw",
        "XRC streaming two way bandwidth",
        RD_BW,
        RD_OTHER,
        BI
    ),
    t!(
        "xrc_bw",
        "XRC streaming one way bandwidth",
        RD_BW,
        RD_OTHER,
        STREAM
    ),
    t!("xrc_lat", "XRC one way latency", RD_LAT, RD_OTHER, PINGPONG),
];

/// Groups of the `tests` topic.
const GROUPS: &[(&str, &[&str])] = &[
    ("Miscellaneous", &["conf", "quit"]),
    (
        "Socket Based",
        &[
            "rds_bw", "rds_lat", "sctp_bw", "sctp_lat", "sdp_bw", "sdp_lat", "tcp_bw", "tcp_lat",
            "udp_bw", "udp_lat",
        ],
    ),
    (
        "RDMA Send/Receive",
        &[
            "rc_bi_bw",
            "rc_bw",
            "rc_lat",
            "uc_bi_bw",
            "uc_bw",
            "uc_lat",
            "ud_bi_bw",
            "ud_bw",
            "ud_lat",
            "xrc_bi_bw",
            "xrc_bw",
            "xrc_lat",
        ],
    ),
    (
        "RDMA",
        &[
            "rc_rdma_read_bw",
            "rc_rdma_read_lat",
            "rc_rdma_write_bw",
            "rc_rdma_write_lat",
            "rc_rdma_write_poll_lat",
            "uc_rdma_write_bw",
            "uc_rdma_write_lat",
            "uc_rdma_write_poll_lat",
        ],
    ),
    (
        "InfiniBand Atomics",
        &["rc_compare_swap_mr", "rc_fetch_add_mr"],
    ),
    ("Verification", &["ver_rc_compare_swap", "ver_rc_fetch_add"]),
];

/// Wraps `words` (joined by ", ") into lines of at most 72 columns with a
/// 4-space indent.
fn wrap_list(words: &[&str]) -> String {
    let mut out = String::new();
    let mut line = String::from("   ");
    for (i, w) in words.iter().enumerate() {
        let item = if i + 1 < words.len() {
            format!("{w},")
        } else {
            (*w).to_string()
        };
        if line.len() + 1 + item.len() > 72 && line.len() > 3 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("   ");
        }
        line.push(' ');
        line.push_str(&item);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Wraps prose into 4-space indented lines of at most 76 columns.
fn wrap_text(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in text.split_whitespace() {
        if !line.is_empty() && 4 + line.len() + 1 + w.len() > 76 {
            out.push_str(&format!("    {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

/// The summary spelling of a long option (`--msg_size Size (-m)`).
fn opt_spelling(long: &str) -> &'static str {
    OPTS.iter()
        .map(|(s, _, _)| *s)
        .find(|s| s.split(' ').next() == Some(long))
        .unwrap_or("")
}

fn opt_short_text(long: &str) -> &'static str {
    OPTS.iter()
        .find(|(s, _, _)| s.split(' ').next() == Some(long))
        .map_or("", |(_, t, _)| *t)
}

fn test_topic(t: &TestHelp) -> String {
    let mut s = format!("Purpose\n    {}\nCommon Options\n", t.purpose);
    if t.common.is_empty() {
        s.push_str("    None\n");
    } else {
        let w = t
            .common
            .iter()
            .map(|c| opt_spelling(c).len())
            .max()
            .unwrap_or(0);
        for c in t.common {
            s.push_str(&format!(
                "    {:<w$}  {}\n",
                opt_spelling(c),
                opt_short_text(c)
            ));
        }
    }
    if !t.other.is_empty() {
        s.push_str("Other Options\n");
        s.push_str(&wrap_list(t.other));
        s.push_str("Display Options\n");
        // Bandwidth tests offer bits/sec (and, as in stock, ver_rc_fetch_add).
        let bits = t.name.ends_with("bw") || t.name == "ver_rc_fetch_add";
        let display: &[&str] = if bits {
            &[
                "--precision",
                "--unify_nodes",
                "--unify_units",
                "--use_bits_per_sec",
                "--verbose",
            ]
        } else {
            &["--precision", "--unify_nodes", "--unify_units", "--verbose"]
        };
        s.push_str(&wrap_list(display));
    }
    s.push_str("Description\n");
    s.push_str(&wrap_text(t.text));
    s
}

fn purpose(name: &str) -> &'static str {
    TEST_HELP
        .iter()
        .find(|t| t.name == name)
        .map_or("", |t| t.purpose)
}

fn tests_topic() -> String {
    let mut s = String::new();
    for (group, names) in GROUPS {
        s.push_str(group);
        s.push('\n');
        for n in *names {
            s.push_str(&format!("    {n:<22}  {}\n", purpose(n)));
        }
    }
    s
}

fn categories_topic() -> String {
    let mut s = String::from(
        "Help on one category is printed by:\n    qperf --help CATEGORY\n\
         CATEGORY is one of:\n",
    );
    for (c, t) in [
        ("categories", "This list"),
        ("examples", "Example command lines"),
        ("options", "Every option explained"),
        ("opts", "One line per option"),
        ("tests", "The list of tests"),
    ] {
        s.push_str(&format!("    {c:<18}  {t}\n"));
    }
    s.push_str("or the name of one of these tests:\n");
    let mut names: Vec<&str> = TESTS.iter().chain(HELP_ONLY).map(|t| t.name).collect();
    names.sort_unstable();
    for n in names {
        s.push_str(&format!("    {n}\n"));
    }
    s
}

fn opts_topic() -> String {
    let w = OPTS.iter().map(|(s, _, i)| s.len() + i).max().unwrap_or(0);
    let mut s = String::new();
    for (spell, text, indent) in OPTS {
        let col = w - indent;
        s.push_str(&format!("{:indent$}{spell:<col$}  {text}\n", ""));
    }
    s
}

fn options_topic() -> String {
    // Each group: the option, its one-side variants, then the explanation.
    let mut s = String::new();
    let mut text: Option<&str> = None;
    let flush = |s: &mut String, text: &mut Option<&str>| {
        if let Some(t) = text.take() {
            s.push_str(&wrap_text(t));
        }
    };
    for (spell, _, indent) in OPTS {
        if *indent > 0 {
            s.push_str(&format!("  {spell}\n"));
            continue;
        }
        flush(&mut s, &mut text);
        s.push_str(spell);
        s.push('\n');
        text = OPTION_TEXT
            .iter()
            .find(|(o, _)| o == spell)
            .map(|(_, t)| *t);
    }
    flush(&mut s, &mut text);
    s
}

/// All topics, built once.
fn topics() -> &'static Vec<(String, String)> {
    static TOPICS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    TOPICS.get_or_init(|| {
        let mut v = vec![
            ("main".to_string(), MAIN.to_string()),
            ("author".to_string(), AUTHOR.to_string()),
            ("bugs".to_string(), BUGS.to_string()),
            ("categories".to_string(), categories_topic()),
            ("examples".to_string(), EXAMPLES.to_string()),
            ("opts".to_string(), opts_topic()),
            ("options".to_string(), options_topic()),
            ("tests".to_string(), tests_topic()),
        ];
        for t in TEST_HELP {
            v.push((t.name.to_string(), test_topic(t)));
        }
        v
    })
}

/// The text of a help topic (exact, case-sensitive name).
pub fn topic(name: &str) -> Option<&'static str> {
    topics()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.as_str())
}

/// The names of all topics.
pub fn topic_names() -> impl Iterator<Item = &'static str> {
    topics().iter().map(|(n, _)| n.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_has_a_topic() {
        for t in TESTS.iter().chain(HELP_ONLY) {
            let text = topic(t.name).unwrap_or_else(|| panic!("{}", t.name));
            assert!(text.starts_with("Purpose\n"), "{}", t.name);
        }
        assert!(topic("Main").is_none());
        assert_eq!(topic_names().count(), 8 + 36);
    }

    #[test]
    fn opts_lists_every_long_option() {
        let opts = topic("opts").unwrap();
        for o in crate::cli::options::OPTIONS {
            if o.name.starts_with("--") {
                assert!(opts.contains(&format!("{} ", o.name)), "{}", o.name);
            }
        }
    }
}
