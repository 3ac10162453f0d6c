//! Root-only network fixtures, one module for netbench's embedded targets
//! and the tests: a "pod" (a network namespace behind a veth pair, routed
//! /32s as Calico wires pods) and a kube-proxy-like Service (iptables `nat`
//! DNAT from a virtual ClusterIP to pod addresses).
//!
//! Every name carries our PID and a per-process counter (`nk<pid>-<n>`), so
//! parallel tests and processes never collide; every iptables rule carries a
//! `-m comment` naming its owner, so cleanup deletes exactly ours.
//! Everything is removed on drop, also when the caller fails or panics; what
//! a SIGKILLed process left behind is removed by the next [`Pod::create`]
//! ([`remove_stale`]).
//!
//! Addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544), a
//! /30 per pod or virtual IP.  The virtual IP is routed into a pod's veth,
//! so no packet to it can leave the machine even when a rule is missing;
//! ports the Service does not expose are rejected at once (kube-proxy
//! rejects them too), so a client fails fast instead of retrying SYNs.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of our namespace names and rule comments: `nk<pid>-<n>`.
const PREFIX: &str = "nk";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn next() -> u32 {
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A /30 of 198.18.0.0/15 for (our PID, n).
fn block(n: u32) -> u32 {
    let pid = std::process::id();
    let slot = (pid.wrapping_mul(64).wrapping_add(n)) % 32768;
    u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 4 * slot
}

/// Why a [`Pod`] cannot be made here (not root, no working `ip netns`), or
/// `None` when it can be tried.
pub fn pod_unavailable() -> Option<String> {
    if !crate::sys::is_root() {
        return Some("not running as root".into());
    }
    works("ip", &["netns", "list"])
}

/// Why these fixtures, a [`Service`] included (iptables), cannot be used
/// here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    pod_unavailable().or_else(|| works("iptables", &["-t", "nat", "-S"]))
}

/// `None` when `tool args` runs and succeeds, else why not.
fn works(tool: &str, args: &[&str]) -> Option<String> {
    match Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => None,
        Ok(_) => Some(format!("`{tool} {}` does not work here", args.join(" "))),
        Err(_) => Some(format!("{tool} is not installed")),
    }
}

/// Runs `tool args`; the error names the command and its stderr.
fn run(tool: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{tool}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{tool} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether the process that owns `nk<pid>-...` is gone.
fn owner_dead(tag: &str) -> bool {
    tag.strip_prefix(PREFIX)
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes namespaces and iptables rules of processes that no longer exist
/// (killed before their guards could run); returns what it removed
/// (namespace names and rule comments).
pub fn remove_stale() -> Vec<String> {
    let mut removed = Vec::new();
    if let Ok(list) = run("ip", &["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if name.starts_with(PREFIX)
                && owner_dead(name)
                && run("ip", &["netns", "del", name]).is_ok()
            {
                removed.push(name.to_string());
            }
        }
    }
    for table in ["nat", "filter"] {
        removed.extend(delete_rules(table, |comment| {
            comment.starts_with(PREFIX) && owner_dead(comment)
        }));
    }
    removed.sort();
    removed.dedup();
    removed
}

/// Deletes every rule of `table` whose comment satisfies `ours`; returns
/// the comments of the rules deleted.
fn delete_rules(table: &str, ours: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(rules) = run("iptables", &["-t", table, "-S"]) else {
        return Vec::new();
    };
    let mut deleted = Vec::new();
    for rule in rules.lines() {
        let words: Vec<&str> = rule.split_whitespace().collect();
        let comment = words
            .windows(2)
            .find(|w| w[0] == "--comment")
            .map(|w| w[1].trim_matches('"'));
        if let Some(comment) = comment.filter(|c| words.first() == Some(&"-A") && ours(c)) {
            let mut args = vec!["-t", table, "-D"];
            args.extend(&words[1..]);
            if run("iptables", &args).is_ok() {
                deleted.push(comment.to_string());
            }
        }
    }
    deleted
}

/// A network namespace behind a veth pair; deleted on drop.
#[derive(Debug)]
pub struct Pod {
    /// Namespace name, `nk<pid>-<n>`.
    pub name: String,
    /// Host end of the veth pair.
    pub host_if: String,
    /// Address of the host end (/32).
    pub host_addr: Ipv4Addr,
    /// Address of the pod end (/32): where servers in the pod listen.
    pub addr: Ipv4Addr,
}

impl Pod {
    /// Creates the namespace, the veth pair, addresses and routes.
    pub fn create() -> Result<Pod, String> {
        remove_stale();
        let n = next();
        let pid = std::process::id();
        let base = block(n);
        let pod = Pod {
            name: format!("{PREFIX}{pid}-{n}"),
            host_if: format!("{PREFIX}{}h{n}", pid % 1_000_000),
            host_addr: Ipv4Addr::from(base + 1),
            addr: Ipv4Addr::from(base + 2),
        };
        let pod_if = format!("{PREFIX}{}p{n}", pid % 1_000_000);
        let (h, p) = (format!("{}/32", pod.host_addr), format!("{}/32", pod.addr));
        let hs = pod.host_addr.to_string();
        let ns = pod.name.as_str();
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", ns],
            vec![
                "link",
                "add",
                &pod.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &pod_if,
            ],
            vec!["link", "set", &pod_if, "netns", ns],
            vec!["addr", "add", &h, "dev", &pod.host_if],
            vec!["link", "set", &pod.host_if, "up"],
            vec!["route", "add", &p, "dev", &pod.host_if],
            vec!["-n", ns, "link", "set", "lo", "up"],
            vec!["-n", ns, "addr", "add", &p, "dev", &pod_if],
            vec!["-n", ns, "link", "set", &pod_if, "up"],
            vec!["-n", ns, "route", "add", &h, "dev", &pod_if],
            vec![
                "-n", ns, "route", "add", "default", "via", &hs, "dev", &pod_if, "onlink",
            ],
        ];
        for args in steps {
            run("ip", &args)?; // on error `pod` drops here and removes what exists
        }
        Ok(pod)
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
        // Normally gone with the namespace; covers a failure before the move.
        let _ = run("ip", &["link", "del", &self.host_if]);
    }
}

/// A protocol a Service port carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// An emulated ClusterIP Service: DNAT rules in the `nat` OUTPUT and
/// PREROUTING chains, as kube-proxy's iptables mode makes them.  Rules and
/// the route are removed on drop.
#[derive(Debug)]
pub struct Service {
    /// The virtual IP.
    pub vip: Ipv4Addr,
    comment: String,
    /// (table, chain, rule spec) of every rule we added, in order.
    rules: Vec<(&'static str, &'static str, Vec<String>)>,
    /// A host veth we routed the virtual IP into.
    route_dev: Option<String>,
}

impl Service {
    /// A virtual IP routed into the host veth `route_dev` (a pod's
    /// [`Pod::host_if`]), with every port rejected until
    /// [`Service::expose`] maps it.
    pub fn create(route_dev: &str) -> Result<Service, String> {
        let comment = format!("{PREFIX}{}-{}", std::process::id(), next());
        // A block that is routed or assigned already (another fixture of a
        // process whose PID maps to the same block) is skipped.
        let mut tries = 0;
        let vip = loop {
            let vip = Ipv4Addr::from(block(next()) + 1);
            let cidr = format!("{vip}/32");
            let taken = run("ip", &["-o", "addr", "show", "to", &cidr])
                .map_or(true, |out| !out.trim().is_empty());
            if !taken && run("ip", &["route", "add", &cidr, "dev", route_dev]).is_ok() {
                break vip;
            }
            tries += 1;
            if tries == 8 {
                return Err(format!("no free virtual IP for a Service via {route_dev}"));
            }
        };
        let mut svc = Service {
            vip,
            comment,
            rules: Vec::new(),
            route_dev: Some(route_dev.to_string()),
        };
        // The filter table sees packets after DNAT: only unmapped ports
        // still have the virtual IP as destination.
        let d = format!("{vip}/32");
        svc.add(
            "filter",
            "OUTPUT",
            &[
                "-d",
                &d,
                "-p",
                "tcp",
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ],
        )?;
        svc.add("filter", "OUTPUT", &["-d", &d, "-j", "REJECT"])?;
        Ok(svc)
    }

    fn add(
        &mut self,
        table: &'static str,
        chain: &'static str,
        spec: &[&str],
    ) -> Result<(), String> {
        let mut rule: Vec<String> = spec.iter().map(|s| s.to_string()).collect();
        rule.extend(["-m", "comment", "--comment", &self.comment].map(String::from));
        let mut args = vec!["-t", table, "-A", chain];
        args.extend(rule.iter().map(String::as_str));
        run("iptables", &args)?;
        self.rules.push((table, chain, rule));
        Ok(())
    }

    /// Maps `port`/`proto` on the virtual IP to `backends`.  With several,
    /// new connections go to them in turn (kube-proxy picks at random; in
    /// turn keeps tests deterministic): the first to the first, and so on.
    pub fn expose(
        &mut self,
        proto: Proto,
        port: u16,
        backends: &[SocketAddrV4],
    ) -> Result<(), String> {
        let (d, dport) = (format!("{}/32", self.vip), port.to_string());
        for chain in ["OUTPUT", "PREROUTING"] {
            for (i, b) in backends.iter().enumerate() {
                let left = (backends.len() - i).to_string();
                let to = b.to_string();
                let mut spec = vec!["-d", &d, "-p", proto.name(), "--dport", &dport];
                if i + 1 < backends.len() {
                    spec.extend([
                        "-m",
                        "statistic",
                        "--mode",
                        "nth",
                        "--every",
                        &left,
                        "--packet",
                        "0",
                    ]);
                }
                spec.extend(["-j", "DNAT", "--to-destination", &to]);
                self.add("nat", chain, &spec)?;
            }
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        for (table, chain, rule) in self.rules.iter().rev() {
            let mut args = vec![*table, "-D", chain];
            args.insert(0, "-t");
            args.extend(rule.iter().map(String::as_str));
            let _ = run("iptables", &args);
        }
        // Anything a failed delete left (the comment is ours alone).
        for table in ["nat", "filter"] {
            let _ = delete_rules(table, |c| c == self.comment);
        }
        if let Some(dev) = &self.route_dev {
            let _ = run(
                "ip",
                &["route", "del", &format!("{}/32", self.vip), "dev", dev],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `None` (after saying why) where the fixtures cannot run; else a
    /// guard that runs this module's root tests one at a time: each one's
    /// `Pod::create` sweeps, and would take the other's stale fixtures.
    fn root_serial() -> Option<std::sync::MutexGuard<'static, ()>> {
        if let Some(why) = unavailable() {
            eprintln!("skipping: {why}");
            return None;
        }
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn exists(pod: &str, host_if: &str, comment: &str) -> [bool; 3] {
        let listed = |tool: &str, args: &[&str], what: &str| {
            run(tool, args).is_ok_and(|out| out.contains(what))
        };
        [
            listed("ip", &["netns", "list"], pod),
            listed("ip", &["link"], host_if),
            listed("iptables", &["-t", "nat", "-S"], comment)
                || listed("iptables", &["-S"], comment),
        ]
    }

    /// A test that panics with a pod and a Service up leaves nothing behind.
    #[test]
    fn everything_is_removed_when_a_test_panics() {
        let Some(_serial) = root_serial() else { return };
        let (tx, rx) = std::sync::mpsc::channel();
        let r = std::thread::spawn(move || {
            let pod = Pod::create().expect("pod");
            let mut svc = Service::create(&pod.host_if).expect("service");
            let to = SocketAddrV4::new(pod.addr, 4000);
            svc.expose(Proto::Tcp, 4000, &[to, to]).expect("expose");
            let names = (pod.name.clone(), pod.host_if.clone(), svc.comment.clone());
            assert_eq!(exists(&names.0, &names.1, &names.2), [true; 3]);
            tx.send(names).expect("send");
            panic!("on purpose");
        })
        .join();
        assert!(r.is_err());
        let (pod, host_if, comment) = rx.recv().expect("names");
        assert_eq!(exists(&pod, &host_if, &comment), [false; 3]);
    }

    /// What a killed process left (a namespace and a rule tagged with a PID
    /// that cannot exist) goes with the next sweep; live owners' stay.
    #[test]
    fn stale_fixtures_are_swept() {
        let Some(_serial) = root_serial() else { return };
        let dead = format!("{PREFIX}4294967-{}", std::process::id());
        let d = format!("{}/32", Ipv4Addr::from(block(next()) + 1));
        run("ip", &["netns", "add", &dead]).expect("stale namespace");
        let rule = [
            "-d",
            &d,
            "-j",
            "REJECT",
            "-m",
            "comment",
            "--comment",
            &dead,
        ];
        let mut add = vec!["-A", "OUTPUT"];
        add.extend(rule);
        run("iptables", &add).expect("stale rule");
        let removed = remove_stale();
        assert!(removed.contains(&dead), "{removed:?}");
        assert!(!exists(&dead, "-", "-")[0], "stale namespace left");
        assert!(
            !run("iptables", &["-S"]).is_ok_and(|out| out.contains(&dead)),
            "stale rule left"
        );
        let pod = Pod::create().expect("a live pod");
        remove_stale();
        assert_eq!(exists(&pod.name, &pod.host_if, "-")[..2], [true, true]);
    }

    #[test]
    fn names_and_blocks_are_unique_per_process() {
        let (a, b) = (next(), next());
        assert_ne!(block(a), block(b));
        assert_eq!(block(a) % 4, 0);
        // PID 1 always exists; 4294967 is above any pid_max (2^22).
        assert!(!owner_dead("nk1-0") && owner_dead("nk4294967-1"));
        assert!(!owner_dead("other-1"));
        assert!(!owner_dead(&format!("nk{}-3", std::process::id())));
    }
}
