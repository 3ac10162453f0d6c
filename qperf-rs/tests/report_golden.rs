//! Re-renders the captured stock outputs byte for byte: the real command
//! line goes through our interpreter, and a fake runner answers each test
//! with hand-built STATs whose counters reproduce the captured figures.
//! This checks option handling, parameter lines, result maths, visibility
//! and layout together, without any network.

use std::collections::VecDeque;

use qperf_rs::cli::session::{run, End, Runner};
use qperf_rs::client::{ClientError, Outcome, Target};
use qperf_rs::proto::{Conf, Counters, Req, Stat, Ticks};

fn golden(name: &str) -> String {
    compat::golden(&format!("qperf/{name}"))
}

/// Answers tests from a queue and records what was asked.
#[derive(Default)]
struct Fake {
    answers: VecDeque<Result<Outcome, ClientError>>,
    asked: Vec<(Target, Req, Req)>,
    affinity: Vec<u32>,
}

impl Runner for Fake {
    fn run_test(
        &mut self,
        target: &Target,
        local: &Req,
        remote: &Req,
    ) -> Result<Outcome, ClientError> {
        self.asked
            .push((target.clone(), local.clone(), remote.clone()));
        self.answers
            .pop_front()
            .unwrap_or_else(|| Err(ClientError::Local("no more answers".into())))
    }

    fn set_affinity(&mut self, cpu: u32) -> Result<(), String> {
        self.affinity.push(cpu);
        Ok(())
    }
}

/// Runs `cmd` (words after `qperf`) with the given answers.
fn exec(cmd: &str, answers: Vec<Result<Outcome, ClientError>>) -> (i32, String, String, Fake) {
    let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    let mut fake = Fake {
        answers: answers.into(),
        ..Fake::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = match run(&args, &mut fake, &mut out, &mut err) {
        End::Exit(c) => c,
        End::Serve(_) => panic!("unexpected server mode"),
    };
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        fake,
    )
}

/// One side's STAT: `real` ticks of duration, cpu ticks (user, softirq,
/// kernel), send and receive counters (bytes, msgs, errs).
struct S {
    real: u64,
    user: u64,
    softirq: u64,
    kernel: u64,
    idle: u64,
    s: (u64, u64, u64),
    r: (u64, u64, u64),
}

impl S {
    fn new(real: u64) -> S {
        S {
            real,
            user: 0,
            softirq: 0,
            kernel: 0,
            idle: 0,
            s: (0, 0, 0),
            r: (0, 0, 0),
        }
    }
    fn cpu(mut self, user: u64, softirq: u64, kernel: u64) -> S {
        (self.user, self.softirq, self.kernel) = (user, softirq, kernel);
        self
    }
    fn idle(mut self, idle: u64) -> S {
        self.idle = idle;
        self
    }
    fn send(mut self, bytes: u64, msgs: u64, errs: u64) -> S {
        self.s = (bytes, msgs, errs);
        self
    }
    fn recv(mut self, bytes: u64, msgs: u64, errs: u64) -> S {
        self.r = (bytes, msgs, errs);
        self
    }
    fn stat(&self) -> Stat {
        let base = 1_000_000;
        let start = Ticks {
            real: base,
            user: base,
            nice: base,
            kernel: base,
            idle: base,
            iowait: base,
            irq: base,
            softirq: base,
            steal: base,
        };
        let end = Ticks {
            real: base + self.real,
            user: base + self.user,
            kernel: base + self.kernel,
            idle: base + self.idle,
            softirq: base + self.softirq,
            ..start
        };
        let c = |(bytes, msgs, errs)| Counters { bytes, msgs, errs };
        Stat {
            no_cpus: 2,
            no_ticks: 100,
            max_cqes: 0,
            time_s: start,
            time_e: end,
            s: c(self.s),
            r: c(self.r),
            ..Stat::default()
        }
    }
}

fn stats(l: S, r: S) -> Result<Outcome, ClientError> {
    Ok(Outcome::Stats {
        local: l.stat(),
        remote: r.stat(),
    })
}

/// A one-way stream: the client sent `sent` messages, the server got `got`.
fn bw(real: u64, msg: u64, sent: u64, got: u64) -> Result<Outcome, ClientError> {
    stats(
        S::new(real).send(sent * msg, sent, 0),
        S::new(real).recv(got * msg, got, 0),
    )
}

/// A ping-pong with `n` messages each way.
fn lat(real: u64, msg: u64, n: u64) -> Result<Outcome, ClientError> {
    stats(
        S::new(real)
            .send((n + 1) * msg, n + 1, 0)
            .recv(n * msg, n, 0),
        S::new(real).send(n * msg, n, 0).recv(n * msg, n, 0),
    )
}

fn check(file: &str, cmd: &str, answers: Vec<Result<Outcome, ClientError>>) -> Fake {
    let (code, out, err, fake) = exec(cmd, answers);
    assert_eq!(out, golden(file), "{file}: stdout");
    assert_eq!(code, 0, "{file}: exit");
    assert!(err.is_empty() || cmd.contains("-D"), "{file}: stderr {err}");
    fake
}

#[test]
fn tcp_bw_vv() {
    let fake = check(
        "tcp_bw_t1_vv.txt",
        "127.0.0.1 -lp 29767 -t 1 -vv tcp_bw",
        vec![stats(
            S::new(100).cpu(1, 44, 82).send(71_426 * 65_536, 71_426, 0),
            S::new(100).cpu(1, 44, 81).recv(71_427 * 65_536, 71_427, 0),
        )],
    );
    let (target, local, remote) = &fake.asked[0];
    assert_eq!(target.host, "127.0.0.1");
    assert_eq!(target.listen_port, 29767);
    assert_eq!(target.wait_secs, 5);
    assert_eq!((remote.ver_maj, remote.ver_min, remote.ver_inc), (0, 4, 11));
    assert_eq!(remote.req_index, 8);
    assert_eq!(
        (remote.msg_size, remote.time, remote.timeout),
        (65536, 1, 5)
    );
    assert_eq!(remote.port, 0);
    assert_eq!(local.msg_size, 65536);
}

#[test]
fn tcp_lat_vv() {
    check(
        "tcp_lat_t1_vv.txt",
        "127.0.0.1 -lp 29767 -t 1 -vv tcp_lat",
        vec![stats(
            S::new(100)
                .cpu(2, 35, 16)
                .send(18_099, 18_099, 0)
                .recv(18_098, 18_098, 0),
            S::new(100)
                .cpu(2, 35, 16)
                .send(18_098, 18_098, 0)
                .recv(18_098, 18_098, 0),
        )],
    );
}

#[test]
fn tcp_bw_vv_uu() {
    check(
        "tcp_bw_t1_vv_uu.txt",
        "127.0.0.1 -lp 29767 -t 1 -vv -uu tcp_bw",
        vec![stats(
            S::new(100).cpu(6, 49, 111).send(55_247 * 65_536, 55_247, 0),
            S::new(100).cpu(6, 49, 110).recv(55_248 * 65_536, 55_248, 0),
        )],
    );
}

#[test]
fn tcp_bw_display_options() {
    check(
        "tcp_bw_t1_ub.txt",
        "127.0.0.1 -lp 29767 -t 1 -ub tcp_bw",
        vec![bw(100, 65_536, 66_186, 66_186)],
    );
    check(
        "tcp_bw_t1_e6.txt",
        "127.0.0.1 -lp 29767 -t 1 -e 6 tcp_bw",
        vec![bw(100, 65_536, 71_887, 71_887)],
    );
    check(
        "tcp_bw_t1_un_vvt.txt",
        "127.0.0.1 -lp 29767 -t 1 -un -vvt tcp_bw",
        vec![stats(
            S::new(100).cpu(2, 43, 88).send(79_346 * 65_536, 79_346, 0),
            S::new(100).cpu(2, 43, 88).recv(79_346 * 65_536, 79_346, 0),
        )],
    );
    check(
        "tcp_bw_t1_v.txt",
        "127.0.0.1 -lp 29767 -t 1 -v tcp_bw",
        vec![stats(
            S::new(100).cpu(1, 44, 83).send(61_951 * 65_536, 61_951, 0),
            S::new(100).cpu(1, 44, 83).recv(61_951 * 65_536, 61_951, 0),
        )],
    );
}

#[test]
fn tcp_bw_sizes() {
    check(
        "tcp_bw_m_1m.txt",
        "127.0.0.1 -lp 29767 -m 1m tcp_bw",
        vec![bw(200, 1_000_000, 11_140, 11_140)],
    );
    let fake = check(
        "tcp_bw_t1_m_1m_vu.txt",
        "127.0.0.1 -lp 29767 -t 1 -m 1m -vu tcp_bw",
        vec![bw(100, 1_000_000, 4_550, 4_550)],
    );
    assert_eq!(fake.asked[0].2.msg_size, 1_000_000);
    check(
        "tcp_bw_t1_m_1g_vu.txt",
        "127.0.0.1 -lp 29767 -t 1 -m 1g -vu tcp_bw",
        vec![bw(100, 1_000_000_000, 0, 0)],
    );
}

#[test]
fn port_above_65535_is_sent_and_shown_unwrapped() {
    let fake = check(
        "tcp_bw_t1_ip_70000_vu.txt",
        "127.0.0.1 -lp 29767 -t 1 -ip 70000 -vu tcp_bw",
        vec![bw(100, 65_536, 58_136, 58_136)],
    );
    assert_eq!(fake.asked[0].2.port, 70_000);
    assert_eq!(fake.asked[0].1.port, 70_000);
}

#[test]
fn udp_bw_too_big() {
    check(
        "udp_bw_t1_m64K_vv.txt",
        "127.0.0.1 -lp 29767 -t 1 -m 64K -vv udp_bw",
        vec![stats(
            S::new(100).cpu(21, 0, 80).send(0, 0, 5_150_000),
            S::new(100).cpu(21, 0, 80),
        )],
    );
}

#[test]
fn udp_bw_udp_lat_vv() {
    check(
        "udp_bw_udp_lat_t1_vv.txt",
        "127.0.0.1 -lp 29767 -t 1 -vv udp_bw udp_lat",
        vec![
            stats(
                S::new(100)
                    .cpu(5, 39, 91)
                    .send(264_004 * 32_768, 264_004, 0),
                S::new(100)
                    .cpu(5, 39, 91)
                    .recv(257_693 * 32_768, 257_693, 0),
            ),
            stats(
                S::new(100)
                    .cpu(1, 33, 19)
                    .send(19_497, 19_497, 0)
                    .recv(19_496, 19_496, 0),
                S::new(100)
                    .cpu(1, 33, 19)
                    .send(19_497, 19_497, 0)
                    .recv(19_497, 19_497, 0),
            ),
        ],
    );
}

#[test]
fn udp_defaults() {
    let fake = check(
        "udp_bw_udp_lat.txt",
        "127.0.0.1 -lp 29767 udp_bw udp_lat",
        vec![
            stats(
                S::new(200).send(2 * 8_860_000_000, 540_649, 0),
                S::new(200).recv(2 * 8_700_000_000, 530_000, 0),
            ),
            lat(200, 1, 37_453),
        ],
    );
    assert_eq!(fake.asked[0].2.msg_size, 32_768);
    assert_eq!(fake.asked[0].2.req_index, 10);
    assert_eq!(fake.asked[1].2.msg_size, 1);
    assert_eq!(fake.asked[1].2.time, 2);
}

#[test]
fn many_parameters_vvu() {
    let fake = check(
        "tcp_lat_t1_vvu_many.txt",
        "127.0.0.1 -lp 29767 -t 1 -vvu -lca 2 -ar1 -ip 29766 -lsb 100000 -rsb 200000 tcp_lat",
        vec![lat(100, 1, 18_182)],
    );
    assert_eq!(fake.affinity, vec![1]);
    let (_, local, remote) = &fake.asked[0];
    assert_eq!((local.affinity, remote.affinity), (2, 0));
    assert_eq!(
        (local.sock_buf_size, remote.sock_buf_size),
        (100_000, 200_000)
    );
    assert_eq!((local.access_recv, remote.access_recv), (1, 1));
    assert_eq!(remote.port, 29766);
}

#[test]
fn debug_lines() {
    let s = |sent, got| {
        S::new(100)
            .cpu(0, 36, 18)
            .idle(109)
            .send(sent, sent, 0)
            .recv(got, got, 0)
    };
    let (code, out, err, _) = exec(
        "127.0.0.1 -lp 29767 -t 1 -D tcp_lat",
        vec![stats(s(18_220, 18_219), s(18_219, 18_220))],
    );
    assert_eq!(code, 0);
    assert_eq!(out, golden("tcp_lat_t1_D.txt"));
    // The -D trace (stderr) is written by the client runtime, not here.
    assert_eq!(err, "");
}

#[test]
fn warnings() {
    let fake = check(
        "warn_obsolete_option.txt",
        "127.0.0.1 -lp 29767 -t 1 -a 1 tcp_lat",
        vec![lat(100, 1, 81_700)],
    );
    assert_eq!(fake.affinity, vec![0]);
    assert_eq!(fake.asked[0].2.affinity, 1);
    check(
        "warn_set_not_used.txt",
        "127.0.0.1 -lp 29767 -t 1 -sl 3 tcp_lat",
        vec![lat(100, 1, 18_182)],
    );
}

#[test]
fn loops() {
    let fake = check(
        "oo_quirk_last_repeats.txt",
        "127.0.0.1 -lp 29767 -t 1 -vu -oo msg_size:1:10 tcp_lat",
        vec![lat(100, 1, 17_544)],
    );
    assert_eq!(fake.asked.len(), 1);
    let fake = check(
        "oo_additive_default_init.txt",
        "127.0.0.1 -lp 29767 -t 1 -vu -oo msg_size::3:+1 tcp_lat",
        vec![
            lat(100, 0, 370_370_370),
            lat(100, 1, 17_241),
            lat(100, 2, 22_936),
            lat(100, 3, 27_933),
        ],
    );
    let sizes: Vec<u32> = fake.asked.iter().map(|a| a.2.msg_size).collect();
    assert_eq!(sizes, vec![0, 1, 2, 3]);
}

#[test]
fn seed_sweep_with_pinned_port() {
    let secs = 200;
    let b = |msg: u64, bytes_per_sec: f64| {
        let n = (bytes_per_sec * 2.0 / msg as f64).round() as u64;
        bw(secs, msg, n, n)
    };
    let l = |msg: u64, us: f64| lat(secs, msg, (2.0 / (2.0 * us * 1e-6)).round() as u64);
    let fake = check(
        "tcp_bw_tcp_lat_oo_vu_ip.txt",
        "127.0.0.1 -lp 29767 -ip 29766 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat",
        vec![
            b(1, 1.8e6),
            b(64, 119e6),
            b(4096, 1.9e9),
            b(262_144, 3.03e9),
            l(1, 16.0),
            l(64, 28.7),
            l(4096, 27.6),
            l(262_144, 41.2),
        ],
    );
    let sizes: Vec<u32> = fake.asked.iter().map(|a| a.2.msg_size).collect();
    assert_eq!(sizes, vec![1, 64, 4096, 262_144, 1, 64, 4096, 262_144]);
    assert!(fake.asked.iter().all(|a| a.2.port == 29766));
    let fake = check(
        "tcp_bw_tcp_lat_oo_vu.txt",
        "127.0.0.1 -lp 29767 -oo msg_size:1:256K:*64 -vu tcp_bw tcp_lat",
        vec![
            b(1, 1.21e6),
            b(64, 112e6),
            b(4096, 1.95e9),
            b(262_144, 4.29e9),
            l(1, 27.7),
            l(64, 26.2),
            l(4096, 16.9),
            l(262_144, 39.8),
        ],
    );
    assert!(fake.asked.iter().all(|a| a.2.port == 0));
}

#[test]
fn conf() {
    let c = Conf {
        node: "vm".into(),
        cpu: "2 Cores: AMD EPYC 2.6GHz".into(),
        os: "Linux 6.18.44-fc-v657".into(),
        qperf: "0.4.11".into(),
    };
    let fake = check(
        "conf.txt",
        "127.0.0.1 -lp 29767 conf",
        vec![Ok(Outcome::Conf {
            local: c.clone(),
            remote: c,
        })],
    );
    assert_eq!(fake.asked[0].2.req_index, 0);
}

#[test]
fn errors_from_the_runner() {
    let (code, out, err, _) = exec(
        "127.0.0.1 -lp 29799 tcp_bw",
        vec![Err(ClientError::Local(
            "127.0.0.1: failed to connect".into(),
        ))],
    );
    assert_eq!(
        (code, out, err),
        (1, golden("server_not_running.txt"), String::new())
    );
    let (code, out, err, _) = exec(
        "127.0.0.1 -lp 29767 -ip 29767 -t 1 tcp_bw",
        vec![Err(ClientError::Remote("unable to make TCP socket".into()))],
    );
    assert_eq!(code, 1);
    assert_eq!(out, golden("server_side_error.txt"));
    assert_eq!(err, golden("server_side_error.stderr.txt"));
    let (code, out, _, _) = exec(
        "127.0.0.1 -lp 29767 -t 1 rc_bw",
        vec![Err(ClientError::Local(
            "failed to find any InfiniBand devices: Function not implemented".into(),
        ))],
    );
    assert_eq!((code, out), (1, golden("rdma_no_device.txt")));
    // The server's error text never arrived (spec §7.2).
    let (code, out, err, _) = exec(
        "127.0.0.1 -t 1 tcp_bw",
        vec![Err(ClientError::RemoteFailure)],
    );
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "tcp_bw:\n", "server failure\n")
    );
}

#[test]
fn quit_stops_processing() {
    let (code, out, _, fake) = exec(
        "127.0.0.1 quit tcp_bw",
        vec![Ok(Outcome::Quit), bw(200, 65_536, 1, 1)],
    );
    assert_eq!((code, out.as_str()), (0, "quit:\n"));
    assert_eq!(fake.asked.len(), 1);
    assert_eq!(fake.asked[0].2.req_index, 1);
    assert_eq!(fake.asked[0].2.time, 2);
}

#[test]
fn tests_run_before_later_bad_arguments() {
    let (code, out, _, _) = exec("127.0.0.1 -t 1 tcp_lat -m 5x", vec![lat(100, 1, 18_000)]);
    assert_eq!(code, 1);
    assert!(out.starts_with("tcp_lat:\n    latency"), "{out}");
    assert!(out.ends_with("-m: bad size: 5x\n"), "{out}");
}
