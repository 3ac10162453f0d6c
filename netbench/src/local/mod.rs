//! The embedded default: targets netbench starts itself when no targets file
//! is given.
//!
//! - `loopback`: our qperf server and an HTTP server (`netbench serve-http`)
//!   on 127.0.0.1, free ports.
//! - `netns`: the same two servers inside a network namespace behind a veth
//!   pair with routed /32 addresses ([`netns`]), started with
//!   `ip netns exec`; only when root and `ip netns` work, otherwise a note
//!   says why and the run is loopback only.
//! - `service`: the `netns` pod reached through an emulated ClusterIP: a
//!   virtual IP routed into the veth and kube-proxy's iptables DNAT rules
//!   ([`testkit::netns::Service`]) for 4000/TCP+UDP and 8080/TCP.  qperf
//!   runs without `-ip`, which works through one Service port because our
//!   server takes data on its listen port.  Only with the `netns` target
//!   and a working iptables.
//!
//! Inside the namespace the ports are the runbook's (`-lp 4000 -ip 4001`,
//! HTTP on 8080): the namespace is ours alone, so they are always free.
//! Servers are killed on drop (and by the kernel if netbench dies), before
//! the namespace is deleted.

pub mod netns;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testkit::netns::{Proto, Service};
use testkit::proc::ChildGuard;

use crate::config::{QperfTarget, Target};
use crate::settings::Overrides;
use crate::sys;
use crate::tools::Tools;
use netns::Netns;

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports inside the namespace (the runbook's pod example).
const NS_QPERF_LP: u16 = 4000;
const NS_QPERF_IP: u16 = 4001;
const NS_HTTP_PORT: u16 = 8080;

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
    netns: Option<Netns>,
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
    let lp = testkit::ports::free_port();
    let http = testkit::ports::free_port();
    local.server(
        &[],
        &tools.qperf,
        &["-lp".into(), lp.to_string()],
        ([127, 0, 0, 1], lp).into(),
    )?;
    let http_addr: SocketAddr = ([127, 0, 0, 1], http).into();
    local.server(
        &[],
        &exe,
        &["serve-http".into(), http_addr.to_string()],
        http_addr,
    )?;
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
    if let Some(why) = netns::unavailable() {
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
    fn start_netns(&mut self, tools: &Tools, exe: &Path) -> Result<(), String> {
        for stale in netns::remove_stale() {
            self.notes.push(format!(
                "removed namespace {stale} left by a killed netbench"
            ));
        }
        let ns = Netns::create()?;
        let prefix = ns.exec_prefix();
        let pod = ns.pod_addr;
        let http_addr: SocketAddr = (pod, NS_HTTP_PORT).into();
        self.netns = Some(ns);
        self.server(
            &prefix,
            &tools.qperf,
            &["-lp".into(), NS_QPERF_LP.to_string()],
            (pod, NS_QPERF_LP).into(),
        )?;
        self.server(
            &prefix,
            exe,
            &["serve-http".into(), http_addr.to_string()],
            http_addr,
        )?;
        self.targets.push(Target {
            name: "netns".into(),
            qperf: Some(QperfTarget {
                host: pod.to_string(),
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
        if let Some(why) = testkit::netns::unavailable() {
            return Err(why);
        }
        testkit::netns::remove_stale();
        let mut svc = Service::create(&ns.host_if)?;
        let to = |port| std::net::SocketAddrV4::new(ns.pod_addr, port);
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

    /// Starts `[prefix..] program args` and waits until `addr` accepts.
    fn server(
        &mut self,
        prefix: &[String],
        program: &Path,
        args: &[String],
        addr: SocketAddr,
    ) -> Result<(), String> {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args);
        sys::kill_with_parent(&mut cmd);
        let shown = format!("{:?}", cmd);
        let mut child =
            ChildGuard::spawn(&mut cmd).map_err(|e| format!("cannot start {shown}: {e}"))?;
        child
            .wait_for_port(addr, START_TIMEOUT)
            .map_err(|e| format!("server {shown} did not come up: {e}"))?;
        self.servers.push(child);
        Ok(())
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
                ns.name, ns.host_if, ns.host_addr, ns.pod_addr
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
