//! The embedded default: targets netbench starts itself when no targets file
//! is given.
//!
//! - `loopback`: our qperf server and an HTTP server (`netbench serve-http`)
//!   on 127.0.0.1. The HTTP server binds port 0 itself and announces its
//!   address on stdout (no pick-then-bind race); qperf needs its `-lp` up
//!   front, so that port is picked free and, should another process take it
//!   before qperf binds, picked again.
//! - `netns`: the same two servers inside a network namespace behind a veth
//!   pair with routed /32 addresses ([`netkit::netns::Pod`]), started with
//!   `ip netns exec`; only when root and `ip netns` work, otherwise a note
//!   says why and the run is loopback only.
//! - `service`: the `netns` pod reached through an emulated ClusterIP: a
//!   virtual IP routed into the veth and kube-proxy's iptables DNAT rules
//!   ([`netkit::netns::Service`]) for 4000/TCP+UDP and 8080/TCP.  qperf
//!   runs without `-ip`, which works through one Service port because our
//!   server takes data on its listen port.  Only with the `netns` target
//!   and a working iptables.
//!
//! Inside the namespace the ports are the runbook's (`-lp 4000 -ip 4001`,
//! HTTP on 8080): the namespace is ours alone, so they are always free.
//! Servers are killed on drop (and by the kernel if netbench dies), before
//! the namespace is deleted.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use netkit::netns::{self, Pod, Proto, Service};
use netkit::proc::ChildGuard;

use crate::config::{QperfTarget, Target};
use crate::serve::LISTENING;
use crate::settings::Overrides;
use crate::sys;
use crate::tools::Tools;

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports inside the namespace (the runbook's pod example).
const NS_QPERF_LP: u16 = 4000;
const NS_QPERF_IP: u16 = 4001;
const NS_HTTP_PORT: u16 = 8080;
/// Free-port picks for the loopback qperf server before giving up.
const PORT_TRIES: usize = 3;

/// When a started server counts as up.
enum Ready {
    /// `addr` accepts TCP connections.
    Port(SocketAddr),
    /// It printed `LISTENING <addr>` on stdout and that address accepts.
    Announced,
}

/// Why a server did not come up.
struct StartError {
    message: String,
    /// It exited on its own (e.g. could not bind), rather than not starting
    /// or not answering in time.
    exited: bool,
}

/// Running local targets; stops everything on drop.
#[derive(Debug)]
pub struct LocalTargets {
    /// The targets to benchmark, loopback first.
    pub targets: Vec<Target>,
    /// Notes for the user (why there is no namespace target, ...).
    pub notes: Vec<String>,
    // Field order matters: servers are dropped (killed) before the
    // Service rules and the namespace.
    servers: Vec<ChildGuard>,
    service: Option<Service>,
    netns: Option<Pod>,
}

/// Starts the loopback target and, if `want_netns` and possible, the
/// namespace target.
pub fn start(tools: &Tools, want_netns: bool) -> Result<LocalTargets, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find netbench itself: {e}"))?;
    let mut local = LocalTargets {
        targets: Vec::new(),
        notes: Vec::new(),
        servers: Vec::new(),
        service: None,
        netns: None,
    };
    let lp = local.loopback_qperf(&tools.qperf)?;
    let http_addr = local
        .server(
            None,
            &exe,
            &["serve-http".into(), "127.0.0.1:0".into()],
            Ready::Announced,
        )
        .map_err(|e| e.message)?;
    local.targets.push(Target {
        name: "loopback".into(),
        qperf: Some(QperfTarget {
            host: "127.0.0.1".into(),
            lp: Some(lp),
            ip: None,
        }),
        wrk_url: Some(format!("http://{http_addr}/")),
        overrides: Overrides::default(),
    });
    if !want_netns {
        local
            .notes
            .push("network-namespace target disabled (--no-netns)".into());
        return Ok(local);
    }
    if let Some(why) = netns::pod_unavailable() {
        local.notes.push(format!(
            "no network-namespace target: {why}; running loopback only"
        ));
        return Ok(local);
    }
    match local.start_netns(tools, &exe) {
        Ok(()) => {
            if let Err(e) = local.start_service() {
                local.notes.push(format!("no service target: {e}"));
            }
        }
        Err(e) => {
            // Drop what the namespace attempt started, keep loopback running.
            local.servers.truncate(2);
            local.netns = None;
            local.notes.push(format!(
                "no network-namespace target: {e}; running loopback only"
            ));
        }
    }
    Ok(local)
}

impl LocalTargets {
    /// Our qperf server on 127.0.0.1 at a free port; returns the port.
    fn loopback_qperf(&mut self, qperf: &Path) -> Result<u16, String> {
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let lp =
                netkit::ports::free_port().map_err(|e| format!("no free loopback port: {e}"))?;
            let ready = Ready::Port(([127, 0, 0, 1], lp).into());
            match self.server(None, qperf, &["-lp".into(), lp.to_string()], ready) {
                Ok(_) => return Ok(lp),
                // Most likely the port was taken between the pick and the bind.
                Err(e) if e.exited => last = e.message,
                Err(e) => return Err(e.message),
            }
        }
        Err(last)
    }

    fn start_netns(&mut self, tools: &Tools, exe: &Path) -> Result<(), String> {
        for stale in netns::remove_stale() {
            self.notes.push(format!(
                "removed namespace or rule {stale} left by a killed netbench"
            ));
        }
        let pod = Pod::create()?;
        let addr = pod.addr;
        let http_addr: SocketAddr = (addr, NS_HTTP_PORT).into();
        self.netns = Some(pod);
        let qperf_ready = Ready::Port((addr, NS_QPERF_LP).into());
        let lp_args = ["-lp".into(), NS_QPERF_LP.to_string()];
        self.server_in_pod(&tools.qperf, &lp_args, qperf_ready)?;
        let http_args = ["serve-http".into(), http_addr.to_string()];
        self.server_in_pod(exe, &http_args, Ready::Port(http_addr))?;
        self.targets.push(Target {
            name: "netns".into(),
            qperf: Some(QperfTarget {
                host: addr.to_string(),
                lp: Some(NS_QPERF_LP),
                ip: Some(NS_QPERF_IP),
            }),
            wrk_url: Some(format!("http://{http_addr}/")),
            overrides: Overrides::default(),
        });
        Ok(())
    }

    /// The `service` target: the namespace's servers behind a virtual IP.
    fn start_service(&mut self) -> Result<(), String> {
        let Some(ns) = &self.netns else {
            return Err("no namespace".into());
        };
        if let Some(why) = netns::unavailable() {
            return Err(why);
        }
        let mut svc = Service::create(&ns.host_if)?;
        let to = |port| std::net::SocketAddrV4::new(ns.addr, port);
        svc.expose(Proto::Tcp, NS_QPERF_LP, &[to(NS_QPERF_LP)])?;
        svc.expose(Proto::Udp, NS_QPERF_LP, &[to(NS_QPERF_LP)])?;
        svc.expose(Proto::Tcp, NS_HTTP_PORT, &[to(NS_HTTP_PORT)])?;
        let vip = svc.vip;
        self.service = Some(svc);
        self.targets.push(Target {
            name: "service".into(),
            qperf: Some(QperfTarget {
                host: vip.to_string(),
                lp: Some(NS_QPERF_LP),
                ip: None,
            }),
            wrk_url: Some(format!("http://{vip}:{NS_HTTP_PORT}/")),
            overrides: Overrides::default(),
        });
        Ok(())
    }

    /// [`LocalTargets::server`] inside our namespace.
    fn server_in_pod(
        &mut self,
        program: &Path,
        args: &[String],
        ready: Ready,
    ) -> Result<SocketAddr, String> {
        let cmd = self.netns.as_ref().map(|pod| pod.command(program));
        self.server(cmd, program, args, ready)
            .map_err(|e| e.message)
    }

    /// Starts `program args` (or `cmd`, the program prefixed already, with
    /// `args` appended) and waits until it is [`Ready`]; returns the address
    /// it serves on.
    fn server(
        &mut self,
        cmd: Option<Command>,
        program: &Path,
        args: &[String],
        ready: Ready,
    ) -> Result<SocketAddr, StartError> {
        let mut cmd = cmd.unwrap_or_else(|| Command::new(program));
        cmd.args(args);
        sys::kill_with_parent(&mut cmd);
        let shown = format!("{:?}", cmd);
        let failed = |message: String, exited: bool| StartError { message, exited };
        let mut child = ChildGuard::spawn(&mut cmd)
            .map_err(|e| failed(format!("cannot start {shown}: {e}"), false))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = match ready {
            Ready::Port(addr) => addr,
            Ready::Announced => announced(&mut child, deadline)
                .map_err(|e| failed(format!("server {shown} did not come up: {e}"), true))?,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        child.wait_for_port(addr, left).map_err(|e| {
            let exited = child.try_status().is_ok_and(|s| s.is_some());
            failed(format!("server {shown} did not come up: {e}"), exited)
        })?;
        self.servers.push(child);
        Ok(addr)
    }

    /// Short description of what runs where (for stderr).
    pub fn describe(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .targets
            .iter()
            .map(|t| {
                format!(
                    "target {}: qperf server {}, HTTP {}",
                    t.name,
                    t.qperf.as_ref().map_or(String::new(), |q| format!(
                        "{}{}",
                        q.host,
                        q.lp.map_or(String::new(), |p| format!(" -lp {p}"))
                    )),
                    t.wrk_url.as_deref().unwrap_or("-")
                )
            })
            .collect();
        if let Some(ns) = &self.netns {
            v.push(format!(
                "namespace {}: veth {} ({}/32) <-> pod {}/32",
                ns.name, ns.host_if, ns.host_addr, ns.addr
            ));
        }
        if let Some(svc) = &self.service {
            v.push(format!(
                "service {}: DNAT {NS_QPERF_LP}/tcp+udp and {NS_HTTP_PORT}/tcp to the pod (iptables nat OUTPUT, PREROUTING)",
                svc.vip
            ));
        }
        v
    }
}

/// The address a server announced with a `LISTENING <addr>` line on stdout.
fn announced(child: &mut ChildGuard, deadline: Instant) -> Result<SocketAddr, String> {
    loop {
        let out = String::from_utf8_lossy(&child.stdout()).into_owned();
        // Complete lines only: the address may still be half written.
        let complete = &out[..out.rfind('\n').map_or(0, |i| i + 1)];
        if let Some(addr) = complete.lines().find_map(|l| l.strip_prefix(LISTENING)) {
            return addr
                .trim()
                .parse()
                .map_err(|e| format!("bad announced address {addr:?}: {e}"));
        }
        if child.try_status().is_ok_and(|s| s.is_some()) {
            return Err(format!(
                "it exited before announcing its address; stderr:\n{}",
                child.stderr_str()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!("no address announced within {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
