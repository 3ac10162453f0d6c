//! A pod-like network namespace: a veth pair with routed /32 addresses, the
//! way Calico wires a pod (no shared subnet, no bridge: a /32 on each end and
//! a host route to it on each side).
//!
//! Addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544), four
//! per namespace, picked from our PID so concurrent runs do not collide.
//! Everything is created with `ip` and removed on drop: deleting the
//! namespace destroys its veth end and with it the pair. Namespaces left by
//! a netbench killed with SIGKILL are removed by the next run
//! ([`remove_stale`]).

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// A namespace we created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    /// `netbench-<pid>`.
    pub name: String,
    /// Host-side veth.
    pub host_if: String,
    /// Address of the host end (/32).
    pub host_addr: Ipv4Addr,
    /// Address of the pod end (/32), where the servers listen.
    pub pod_addr: Ipv4Addr,
}

/// The host and pod addresses for a given PID: 198.18.0.0/15 split in /30s.
pub fn addresses(pid: u32) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 4 * (pid % 32768);
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// Why the namespace target cannot be used, or `None` if it can be tried.
pub fn unavailable() -> Option<String> {
    if !crate::sys::is_root() {
        return Some("not running as root".into());
    }
    let ip = Command::new("ip")
        .args(["netns", "list"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ip {
        Ok(s) if s.success() => None,
        Ok(_) => Some("`ip netns` does not work here".into()),
        Err(_) => Some("the `ip` command (iproute2) is not installed".into()),
    }
}

/// Deletes namespaces left by a netbench that was killed outright
/// (`netbench-<pid>` whose process no longer exists); returns their names.
pub fn remove_stale() -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| {
            name.strip_prefix("netbench-")
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        })
        .filter(|name| ip(&["netns", "del", name]).is_ok())
        .map(str::to_string)
        .collect()
}

impl Netns {
    /// Creates the namespace, the veth pair, addresses and routes.
    pub fn create() -> Result<Netns, String> {
        let pid = std::process::id();
        let (host_addr, pod_addr) = addresses(pid);
        let ns = Netns {
            name: format!("netbench-{pid}"),
            host_if: format!("nb{pid}h"),
            host_addr,
            pod_addr,
        };
        let pod_if = format!("nb{pid}p");
        let (h, p) = (format!("{host_addr}/32"), format!("{pod_addr}/32"));
        let hs = host_addr.to_string();
        let n = ns.name.as_str();
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", n],
            vec![
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &pod_if,
            ],
            vec!["link", "set", &pod_if, "netns", n],
            vec!["addr", "add", &h, "dev", &ns.host_if],
            vec!["link", "set", &ns.host_if, "up"],
            vec!["route", "add", &p, "dev", &ns.host_if],
            vec!["-n", n, "link", "set", "lo", "up"],
            vec!["-n", n, "addr", "add", &p, "dev", &pod_if],
            vec!["-n", n, "link", "set", &pod_if, "up"],
            vec!["-n", n, "route", "add", &h, "dev", &pod_if],
            vec![
                "-n", n, "route", "add", "default", "via", &hs, "dev", &pod_if, "onlink",
            ],
        ];
        for args in steps {
            ip(&args)?; // on error `ns` drops here and removes what exists
        }
        Ok(ns)
    }

    /// Prefix that runs a command inside the namespace.
    pub fn exec_prefix(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.name]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        // Normally gone with the namespace; covers a failure before the move.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_the_benchmark_range() {
        for pid in [0, 1, 32767, 32768, 4_194_303] {
            let (h, p) = addresses(pid);
            for a in [h, p] {
                let o = a.octets();
                assert!(o[0] == 198 && (o[1] == 18 || o[1] == 19), "{a}");
            }
            assert_eq!(u32::from(p), u32::from(h) + 1);
        }
    }
}
