//! The command line interpreter (spec qperf.md §1, §2): processes the
//! arguments strictly left to right, running each test (under the `-oo`
//! loops given so far) as soon as its word is reached, and finally decides
//! between server and client mode.
//!
//! Everything printed goes to the `out`/`err` writers given by the caller;
//! the network part is behind [`Runner`], so the whole interpreter can be
//! tested without sockets.

use std::io::Write;

use super::loops::{self, Loop};
use super::options::{self, Arg, Class, Opt, Target as OptTarget, OPTIONS};
use super::value;
use crate::client::{ClientError, Outcome, Target};
use crate::ext::{self, json as xjson, Extensions};
use crate::help::{self, VERSION};
use crate::params::{Par, Params, Side};
use crate::proto::Req;
use crate::report::{self, Display};
use crate::results;
use crate::server::ServerConfig;
use crate::tests_table::{self, Setup, TestInfo, Transport};

/// The default control port.
pub const DEFAULT_LISTEN_PORT: i64 = 19765;

/// What the session needs from the outside world.
pub trait Runner {
    /// Runs one test against the server (client::run_test in the binary).
    fn run_test(
        &mut self,
        target: &Target,
        local: &Req,
        remote: &Req,
    ) -> Result<Outcome, ClientError>;
    /// Pins this process to `cpu`; the error is the `strerror` text.
    fn set_affinity(&mut self, cpu: u32) -> Result<(), String>;
    /// Runs one test with our extensions (`ext.any()`); runners without
    /// them run the stock test.
    fn run_test_ext(
        &mut self,
        target: &Target,
        local: &Req,
        remote: &Req,
        ext: Extensions,
    ) -> Result<Outcome, ClientError> {
        let _ = ext;
        self.run_test(target, local, remote)
    }
}

/// How the invocation ends.
#[derive(Debug)]
pub enum End {
    /// Exit with this status (everything has been printed).
    Exit(i32),
    /// No client argument: become a server.
    Serve(ServerConfig),
}

/// Stops processing: the exit status (the message is already printed).
struct Stop(i32);

type Step = Result<(), Stop>;

/// The interpreter state.
pub struct Session<'a> {
    params: Params,
    display: Display,
    listen_port: i64,
    wait_secs: i64,
    single_port: bool,
    host: Option<String>,
    loops: Vec<Loop>,
    /// `--percentiles`, `-P`, `--cgroup_cpu`.
    ext: Extensions,
    /// `--json FILE`: the document being collected.
    json: Option<xjson::Doc>,
    args: Vec<String>,
    runner: &'a mut dyn Runner,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

/// Stock formats every message into 256 bytes: longer texts are cut to
/// 251 characters plus ` ...` (we never print its stack garbage).
pub fn clip(msg: &str) -> String {
    if msg.len() < 256 {
        return msg.to_string();
    }
    let mut end = 251;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &msg[..end])
}

/// Runs the command line `args` (without the program name).
pub fn run(
    args: &[String],
    runner: &mut dyn Runner,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> End {
    let mut s = Session {
        params: Params::new(),
        display: Display::default(),
        listen_port: DEFAULT_LISTEN_PORT,
        wait_secs: 5,
        single_port: false,
        host: None,
        loops: Vec::new(),
        ext: Extensions::default(),
        json: None,
        args: args.to_vec(),
        runner,
        out,
        err,
    };
    let mut end = match s.args(args) {
        Ok(end) => end,
        Err(Stop(code)) => End::Exit(code),
    };
    let _ = s.out.flush();
    if let (Some(doc), End::Exit(code)) = (&s.json, &mut end) {
        if let Err(e) = doc.write() {
            let e = crate::sys::strerror(&e);
            let _ = writeln!(s.err, "--json {}: cannot write: {e}", doc.path);
            *code = 1;
        }
    }
    end
}

impl Session<'_> {
    /// Prints a (clipped) message line on stdout.
    fn say(&mut self, msg: &str) {
        let _ = writeln!(self.out, "{}", clip(msg));
    }

    /// Prints an error and stops with status 1.
    fn fail(&mut self, msg: &str) -> Stop {
        self.say(msg);
        Stop(1)
    }

    fn args(&mut self, args: &[String]) -> Result<End, Stop> {
        let mut is_client = false;
        let mut test_given = false;
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            if word.starts_with('-') {
                let (found, warning) = options::find(word);
                if let Some(w) = warning {
                    self.say(&w);
                }
                let Some(index) = found else {
                    return Err(
                        self.fail(&format!("{word}: bad option; try: qperf --help options"))
                    );
                };
                if !OPTIONS[index].server {
                    is_client = true;
                }
                let next = args.get(i + 1).map(String::as_str);
                i += self.option(index, word, next)?;
            } else {
                is_client = true;
                if self.host.is_none() {
                    self.host = Some(word.clone());
                } else {
                    let Some(test) = tests_table::find(word) else {
                        return Err(
                            self.fail(&format!("{word}: bad test; try: qperf --help tests"))
                        );
                    };
                    self.run_loops(0, test)?;
                    test_given = true;
                }
                i += 1;
            }
        }
        if !is_client {
            return Ok(End::Serve(ServerConfig {
                listen_port: self.listen_port as u16,
                loc_timeout_secs: self.params.num(Par::Timeout, Side::Local),
                debug: self.display.debug,
            }));
        }
        if !test_given {
            let msg = match &self.host {
                None => "you used a client-only option but did not specify the server name.\n\
                         Do you want to be a client or server?"
                    .to_string(),
                Some(h) if tests_table::find(h).is_some() => {
                    "must specify host name first; try: qperf --help".to_string()
                }
                Some(_) => "must specify a test type; try: qperf --help".to_string(),
            };
            return Err(self.fail(&msg));
        }
        Ok(End::Exit(0))
    }

    /// Applies option `index` typed as `word` with the following word
    /// `next`; returns how many words were consumed.
    fn option(&mut self, index: usize, word: &str, next: Option<&str>) -> Result<usize, Stop> {
        let opt: Opt = OPTIONS[index];
        let by = (index, opt.name);
        let missing = |s: &mut Self| s.fail(&format!("missing argument to {word}"));
        let checked = |s: &mut Self, r: Result<i64, String>| r.map_err(|e| s.fail(&e));
        match opt.arg {
            Arg::Debug => self.display.debug = true,
            Arg::Help => {
                let topic = next.unwrap_or("main");
                return match help::topic(topic) {
                    Some(text) => {
                        let _ = self.out.write_all(text.as_bytes());
                        Err(Stop(0))
                    }
                    None => Err(self.fail(&format!(
                        "cannot find help category {topic}; try: qperf --help categories"
                    ))),
                };
            }
            Arg::Version => {
                let _ = writeln!(self.out, "qperf {VERSION}");
                return Err(Stop(0));
            }
            Arg::Host => {
                let Some(v) = next else {
                    return Err(missing(self));
                };
                self.host = Some(v.to_string());
                return Ok(2);
            }
            Arg::Loop => {
                let Some(v) = next else {
                    return Err(self.fail(&format!("{word}: missing argument")));
                };
                let l = loops::parse(word, v).map_err(|e| self.fail(&e))?;
                self.loops.push(l);
                return Ok(2);
            }
            Arg::ListenPort | Arg::Precision | Arg::Wait => {
                let Some(v) = next else {
                    return Err(missing(self));
                };
                let n = if opt.arg == Arg::Wait {
                    checked(self, value::time(word, v))?
                } else {
                    checked(self, value::int(word, v))?
                };
                match opt.arg {
                    // Stock keeps these in C ints.
                    Arg::ListenPort => self.listen_port = i64::from(n as i32),
                    Arg::Precision => {
                        self.display.units.precision = (n as i32).clamp(0, 1000) as usize
                    }
                    _ => self.wait_secs = i64::from(n as i32),
                }
                return Ok(2);
            }
            Arg::UnifyNodes => self.display.unify_nodes = true,
            Arg::SinglePort => self.single_port = true,
            Arg::UnifyUnits => self.display.units.unify_units = true,
            Arg::BitsPerSec => self.display.units.bits_per_sec = true,
            Arg::Verbose => {
                let v = &mut self.display.verbose;
                for l in [&mut v.conf, &mut v.stat, &mut v.time, &mut v.used] {
                    *l = (*l).max(1);
                }
            }
            Arg::VerboseMore => {
                let v = &mut self.display.verbose;
                for l in [&mut v.conf, &mut v.stat, &mut v.time, &mut v.used] {
                    *l = 2;
                }
            }
            Arg::VerboseClass(c, level) => {
                let v = &mut self.display.verbose;
                *match c {
                    Class::Conf => &mut v.conf,
                    Class::Stat => &mut v.stat,
                    Class::Time => &mut v.time,
                    Class::Used => &mut v.used,
                } = level;
            }
            Arg::Percentiles => self.ext.percentiles = true,
            Arg::CgroupCpu => self.ext.cgroup_cpu = true,
            Arg::Streams => {
                let Some(v) = next else {
                    return Err(missing(self));
                };
                let n = checked(self, value::int(word, v))?;
                if !(1..=i64::from(ext::MAX_STREAMS)).contains(&n) {
                    return Err(self.fail(&format!(
                        "{word}: bad stream count: {n}; must be 1 to {}",
                        ext::MAX_STREAMS
                    )));
                }
                self.ext.streams = n as u32;
                return Ok(2);
            }
            Arg::Json => {
                let Some(v) = next else {
                    return Err(missing(self));
                };
                self.json = Some(xjson::Doc::new(v, &self.args));
                return Ok(2);
            }
            Arg::Set1 => self.set_num(opt.target, by, 1),
            Arg::Int | Arg::Size | Arg::Time | Arg::Sl => {
                let Some(v) = next else {
                    return Err(missing(self));
                };
                let r = match opt.arg {
                    Arg::Int => value::int(word, v),
                    Arg::Size => value::size(word, v),
                    Arg::Time => value::time(word, v),
                    _ => value::service_level(word, v),
                };
                let n = checked(self, r)?;
                // Stored in 32-bit fields, truncated like stock.
                self.set_num(opt.target, by, n as u32);
                return Ok(2);
            }
            Arg::Str => {
                let Some(v) = next else {
                    return Err(missing(self));
                };
                let text = value::string(v).map_err(|e| self.fail(&e))?;
                for (p, side) in sides(opt.target) {
                    self.params.user_text(p, side, by, &text);
                }
                return Ok(2);
            }
        }
        Ok(1)
    }

    fn set_num(&mut self, target: OptTarget, by: (usize, &'static str), v: u32) {
        for (p, side) in sides(target) {
            self.params.user_num(p, side, by, v);
        }
    }

    /// Runs `test` under the loops from `depth` on (stock `do_loop`).
    fn run_loops(&mut self, depth: usize, test: &'static TestInfo) -> Step {
        let Some(l) = self.loops.get(depth).cloned() else {
            return self.client(test);
        };
        let name = OPTIONS[l.option].name;
        for v in l.values() {
            let text = v.to_string();
            self.option(l.option, name, Some(&text))?;
            self.run_loops(depth + 1, test)?;
        }
        Ok(())
    }

    /// One test (stock `client`): defaults, affinity, header, per-test
    /// setup and warnings, the run, the result block.
    fn client(&mut self, test: &'static TestInfo) -> Step {
        let p = &mut self.params;
        p.clear_inuse();
        for side in [Side::Local, Side::Remote] {
            if !p.is_set(Par::NoMsgs, side) {
                p.default_num(Par::Time, side, 2);
            }
        }
        p.default_both(Par::Timeout, 5);
        p.use_both(Par::Affinity);
        p.use_both(Par::Time);

        let cpu = p.num(Par::Affinity, Side::Local);
        if cpu != 0 {
            if let Err(e) = self.runner.set_affinity(cpu - 1) {
                let cpu = (cpu - 1) as i32;
                return Err(self.fail(&format!("cannot set processor affinity (cpu {cpu}): {e}")));
            }
        }
        let _ = writeln!(self.out, "{}:", test.name);
        self.setup(test);
        let ext = self.ext_for(test);

        let mut local = self.params.req(Side::Local);
        let mut remote = self.params.req(Side::Remote);
        for r in [&mut local, &mut remote] {
            r.ver_maj = 0;
            r.ver_min = 4;
            r.ver_inc = 11;
            r.req_index = test.index();
        }
        let target = Target {
            host: self.host.clone().unwrap_or_default(),
            listen_port: self.listen_port as u16,
            wait_secs: self.wait_secs.clamp(0, i64::from(u32::MAX)) as u32,
            debug: self.display.debug,
            single_port: self.single_port,
        };
        let mut entry = self.json.as_mut().map(|doc| {
            doc.set_host(&target.host);
            xjson::test_entry(test.name, &local, &remote, &ext)
        });
        // No flush here: like stock, stdout stays block-buffered when it is
        // not a terminal, so a remote error can precede the header in 2>&1.
        let outcome = if ext.any() {
            self.runner.run_test_ext(&target, &local, &remote, ext)
        } else {
            self.runner.run_test(&target, &local, &remote)
        };
        let kind = test.kind.unwrap_or(tests_table::ResultKind::Latency);
        let step = match &outcome {
            Ok(Outcome::Quit) => Err(Stop(0)),
            Ok(Outcome::Conf { local, remote }) => {
                let _ = report::render(self.out, &report::conf_lines(local, remote));
                if let Some(e) = &mut entry {
                    e.insert("conf".into(), xjson::conf(local, remote));
                }
                Ok(())
            }
            Ok(Outcome::Stats { local, remote }) => {
                let res = results::compute(local, remote);
                let lines = report::result_lines(&self.display, kind, &res, &self.params);
                let _ = report::render(self.out, &lines);
                if let Some(e) = &mut entry {
                    let f = report::result_figures(&self.display, kind, &res);
                    e.insert("figures".into(), xjson::figures(&f));
                }
                Ok(())
            }
            Ok(Outcome::Extended {
                local,
                remote,
                extras,
            }) => {
                let res = results::compute(local, remote);
                let lines = report::result_lines(&self.display, kind, &res, &self.params);
                let _ = report::render(self.out, &lines);
                let (figs, note) = ext::lines::figures(local, remote, extras);
                let more =
                    ext::lines::to_lines(&self.display.units, &figs, note.as_deref(), extras);
                let _ = report::render(self.out, &more);
                if let Some(e) = &mut entry {
                    let mut f = report::result_figures(&self.display, kind, &res);
                    f.extend(figs);
                    e.insert("figures".into(), xjson::figures(&f));
                    xjson::extras(e, local, remote, extras);
                }
                Ok(())
            }
            Err(ClientError::Local(msg)) => {
                // A hint of ours may follow stock's text on its own line.
                for line in msg.lines() {
                    self.say(line);
                }
                Err(Stop(1))
            }
            Err(ClientError::Remote(msg)) => {
                let _ = writeln!(self.err, "server: {}", clip(msg));
                Err(Stop(1))
            }
            Err(ClientError::RemoteFailure) => {
                let _ = writeln!(self.err, "server failure");
                Err(Stop(1))
            }
        };
        if let (Some(mut e), Some(doc)) = (entry, self.json.as_mut()) {
            let (status, error) = match &outcome {
                Ok(Outcome::Quit) => ("quit", serde_json::Value::Null),
                Ok(_) => ("ok", serde_json::Value::Null),
                Err(ClientError::Local(m)) => (
                    "error",
                    serde_json::json!({"side": "local", "text": clip(m)}),
                ),
                Err(ClientError::Remote(m)) => (
                    "error",
                    serde_json::json!({"side": "server", "text": clip(m)}),
                ),
                Err(ClientError::RemoteFailure) => (
                    "error",
                    serde_json::json!({"side": "server", "text": "server failure"}),
                ),
            };
            e.insert("status".into(), status.into());
            e.insert("error".into(), error);
            doc.push(serde_json::Value::Object(e));
        }
        step
    }

    /// The extensions that apply to `test`; the others get stock's
    /// "set but not used" warning.
    fn ext_for(&mut self, test: &TestInfo) -> Extensions {
        let socket = matches!(
            test.transport,
            Transport::Tcp | Transport::Udp | Transport::Sctp | Transport::Sdp
        );
        let lat = test.name.ends_with("_lat");
        let bw = test.name == "tcp_bw" || test.name == "udp_bw";
        let ext = self.ext.for_test(socket, lat, bw);
        let unused = [
            (self.ext.percentiles && !ext.percentiles, "--percentiles"),
            (self.ext.streams > 1 && ext.streams <= 1, "--streams"),
            (self.ext.cgroup_cpu && !ext.cgroup_cpu, "--cgroup_cpu"),
        ];
        for (_, name) in unused.iter().filter(|(u, _)| *u) {
            self.say(&format!(
                "warning: {name} set but not used in test {}",
                test.name
            ));
        }
        ext
    }

    /// The test's own parameter defaults and consumption, then the
    /// "set but not used" warnings (spec §2.6 steps 7–8).
    fn setup(&mut self, test: &TestInfo) {
        let p = &mut self.params;
        match test.setup {
            Setup::Conf => return,
            Setup::Quit => {}
            Setup::Socket { access_recv } => {
                if access_recv {
                    p.use_both(Par::AccessRecv);
                }
                if let Some(m) = test.default_msg_size {
                    p.default_both(Par::MsgSize, m);
                }
                p.use_both(Par::Port);
                p.use_both(Par::SockBufSize);
            }
            Setup::Rdma {
                access_recv,
                no_msgs,
                rd_atomic,
                poll,
            } => {
                if access_recv {
                    p.use_both(Par::AccessRecv);
                }
                if no_msgs {
                    p.use_both(Par::NoMsgs);
                }
                if test.transport == Transport::Rc {
                    p.use_both(Par::UseCm);
                } else {
                    p.force_num(Par::UseCm, Side::Local, 0);
                    p.force_num(Par::UseCm, Side::Remote, 0);
                }
                if p.num(Par::UseCm, Side::Local) == 0 {
                    p.default_both(Par::MtuSize, 2048);
                    for q in [Par::Id, Par::Sl, Par::StaticRate, Par::SrcPathBits] {
                        p.use_both(q);
                    }
                }
                if let Some(m) = test.default_msg_size {
                    p.default_both(Par::MsgSize, m);
                }
                if poll {
                    p.use_both(Par::PollMode);
                }
                if rd_atomic {
                    p.use_both(Par::RdAtomic);
                }
            }
        }
        for name in self.params.take_unused() {
            self.say(&format!(
                "warning: {name} set but not used in test {}",
                test.name
            ));
        }
    }
}

/// The parameter copies an option target writes.
fn sides(t: OptTarget) -> Vec<(Par, Side)> {
    match t {
        OptTarget::None => vec![],
        OptTarget::Both(p) => vec![(p, Side::Local), (p, Side::Remote)],
        OptTarget::Local(p) => vec![(p, Side::Local)],
        OptTarget::Remote(p) => vec![(p, Side::Remote)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Stat;
    use proptest::prelude::*;

    /// Answers every test with empty STATs, and stops endless loops.
    struct Fake {
        calls: usize,
    }

    impl Runner for Fake {
        fn run_test(&mut self, _: &Target, _: &Req, _: &Req) -> Result<Outcome, ClientError> {
            self.calls += 1;
            if self.calls > 20 {
                return Err(ClientError::Local("enough".into()));
            }
            Ok(Outcome::Stats {
                local: Stat::default(),
                remote: Stat::default(),
            })
        }
        fn set_affinity(&mut self, _: u32) -> Result<(), String> {
            Ok(())
        }
    }

    fn exec(args: &[String]) -> (End, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let end = run(args, &mut Fake { calls: 0 }, &mut out, &mut err);
        (end, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn server_mode_only_with_server_options() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        match exec(&args("-lp 4000 -D -lto 3")).0 {
            End::Serve(c) => {
                assert_eq!(
                    (c.listen_port, c.loc_timeout_secs, c.debug),
                    (4000, 3, true)
                )
            }
            e => panic!("{e:?}"),
        }
        match exec(&[]).0 {
            End::Serve(c) => assert_eq!((c.listen_port, c.loc_timeout_secs), (19765, 0)),
            e => panic!("{e:?}"),
        }
        assert!(matches!(exec(&args("-lp 4000 -t 1")).0, End::Exit(1)));
        // -lp wraps like the C int it is stored in, then modulo 65536.
        match exec(&args("-lp 70000")).0 {
            End::Serve(c) => assert_eq!(c.listen_port, 4464),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn host_option_and_clipping() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let (end, out) = exec(&args("-H h tcp_lat"));
        assert!(matches!(end, End::Exit(0)), "{out}");
        assert!(out.starts_with("tcp_lat:\n"));
        let long = "x".repeat(300);
        assert_eq!(clip(&long), format!("{} ...", "x".repeat(251)));
        assert_eq!(clip(&long[..255]), long[..255]);
    }

    #[test]
    fn loop_overflow_wraps_into_the_options_error() {
        // Like stock: 2^62 runs, 2^63 wraps negative and is refused.
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let (end, out) = exec(&args(&format!(
            "h -oo msg_size:{}:{}:*2 tcp_lat",
            1u64 << 62,
            i64::MAX
        )));
        assert!(matches!(end, End::Exit(1)), "{out}");
        assert_eq!(out.matches("tcp_lat:\n").count(), 1, "{out}");
        assert!(
            out.ends_with("--msg_size requires a non-negative number\n"),
            "{out}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any command line ends without a panic or a hang.
        #[test]
        fn never_panics(words in prop::collection::vec(
            prop_oneof![
                Just("h".to_string()),
                Just("tcp_lat".to_string()),
                Just("conf".to_string()),
                Just("-oo".to_string()),
                Just("-t".to_string()),
                Just("-m".to_string()),
                Just("-e".to_string()),
                Just("-vv".to_string()),
                Just("-sl".to_string()),
                Just("::3:*0".to_string()),
                Just("-1".to_string()),
                "[-a-z0-9:*+.]{0,12}",
                any::<String>(),
            ],
            0..8,
        )) {
            let _ = exec(&words);
        }
    }
}
