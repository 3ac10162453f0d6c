//! CPU use of this process's own cgroup (`--cgroup_cpu`): stock's
//! `loc_cpus_used` comes from the host-wide `/proc/stat`, which inside a pod
//! counts every pod on the node. The cgroup's own counter is cgroup v2's
//! `cpu.stat` (`usage_usec`), or v1's `cpuacct.usage` (ns). The parsers are
//! pure functions over the files' text; [`sample`] reads the files.

use std::path::{Path, PathBuf};

/// Where this process's cgroup is, from `/proc/self/cgroup`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// cgroup v2 path (the `0::PATH` line).
    pub v2: Option<String>,
    /// cgroup v1 path of the hierarchy holding `cpuacct`.
    pub cpuacct: Option<String>,
    /// The v1 controller list of that hierarchy (its mount directory name,
    /// e.g. `cpu,cpuacct`).
    pub cpuacct_controllers: Option<String>,
}

/// Parses `/proc/self/cgroup` (`ID:CONTROLLERS:PATH` per line).
pub fn parse_membership(text: &str) -> Membership {
    let mut m = Membership::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" && ctl.is_empty() {
            m.v2 = Some(path.to_string());
        } else if ctl.split(',').any(|c| c == "cpuacct") {
            m.cpuacct = Some(path.to_string());
            m.cpuacct_controllers = Some(ctl.to_string());
        }
    }
    m
}

/// `usage_usec` out of a cgroup v2 `cpu.stat`.
pub fn parse_cpu_stat(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("usage_usec"))
            .then(|| w.next()?.parse().ok())
            .flatten()
    })
}

/// µs out of a cgroup v1 `cpuacct.usage` (ns).
pub fn parse_cpuacct_usage(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().map(|ns| ns / 1000)
}

/// A cgroup mount from `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The cgroup path the mount shows at its mount point (`/` on a host,
    /// the container's own cgroup inside some containers).
    pub root: String,
    pub point: String,
    /// cgroup v2 (`cgroup2`) or v1 (`cgroup`) with `cpuacct` in its options.
    pub kind: Kind,
}

/// The cgroup v2 mount and the v1 `cpuacct` mount of `/proc/self/mountinfo`.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = pre.split_whitespace().collect();
        let g: Vec<&str> = post.split_whitespace().collect();
        let (Some(root), Some(point), Some(fstype)) = (f.get(3), f.get(4), g.first()) else {
            continue;
        };
        let kind = match *fstype {
            "cgroup2" => Kind::V2,
            "cgroup"
                if g.get(2)
                    .is_some_and(|o| o.split(',').any(|c| c == "cpuacct")) =>
            {
                Kind::V1
            }
            _ => continue,
        };
        v.push(Mount {
            root: root.to_string(),
            point: point.to_string(),
            kind,
        });
    }
    v
}

/// The files that may hold this cgroup's usage, best first: v2 then v1.
pub fn candidates(mounts: &[Mount], m: &Membership) -> Vec<(PathBuf, Kind)> {
    let mut v = Vec::new();
    for (kind, path, file) in [
        (Kind::V2, &m.v2, "cpu.stat"),
        (Kind::V1, &m.cpuacct, "cpuacct.usage"),
    ] {
        let Some(path) = path else { continue };
        for mnt in mounts.iter().filter(|x| x.kind == kind) {
            // Inside a cgroup namespace the path is relative to the mount's
            // root already; on a host the root is `/`.
            let rel = path.strip_prefix(mnt.root.as_str()).unwrap_or(path);
            let rel = rel.trim_start_matches('/');
            v.push((Path::new(&mnt.point).join(rel).join(file), kind));
        }
    }
    v
}

/// Which parser a file needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    V2,
    V1,
}

/// This process's cgroup CPU usage now, in µs; `None` when no cgroup
/// counter can be read.
pub fn sample() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let m = parse_membership(&text);
    let mounts = parse_mounts(&std::fs::read_to_string("/proc/self/mountinfo").ok()?);
    candidates(&mounts, &m)
        .into_iter()
        .find_map(|(path, kind)| {
            let t = std::fs::read_to_string(path).ok()?;
            match kind {
                Kind::V2 => parse_cpu_stat(&t),
                Kind::V1 => parse_cpuacct_usage(&t),
            }
        })
}

/// Two samples around a test.
pub struct Window(Option<(u64, std::time::Instant)>);

impl Window {
    /// Samples now when `on` (else does nothing: no file is read).
    pub fn start(on: bool) -> Window {
        Window(
            on.then(|| sample().map(|u| (u, std::time::Instant::now())))
                .flatten(),
        )
    }

    /// The usage since [`Window::start`]; `None` without a counter.
    pub fn stop(self) -> Option<super::CgroupUse> {
        let (u0, t0) = self.0?;
        let u1 = sample()?;
        Some(super::CgroupUse {
            usage_usec: u1.saturating_sub(u0),
            elapsed_ns: u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on a cgroup v2 host (systemd) and in a v1 docker container.
    const V2_SELF: &str = "0::/user.slice/user-1000.slice/session-3.scope\n";
    const V1_SELF: &str = "12:pids:/docker/4f1c\n\
        4:cpu,cpuacct:/docker/4f1c\n\
        3:memory:/docker/4f1c\n\
        1:name=systemd:/docker/4f1c\n\
        0::/system.slice/containerd.service\n";
    const CPU_STAT: &str = "usage_usec 8431952\nuser_usec 5210000\nsystem_usec 3221952\n\
        nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n";

    #[test]
    fn membership_v2_and_v1() {
        let m = parse_membership(V2_SELF);
        assert_eq!(
            m.v2.as_deref(),
            Some("/user.slice/user-1000.slice/session-3.scope")
        );
        assert_eq!(m.cpuacct, None);
        let m = parse_membership(V1_SELF);
        assert_eq!(m.cpuacct.as_deref(), Some("/docker/4f1c"));
        assert_eq!(m.cpuacct_controllers.as_deref(), Some("cpu,cpuacct"));
        assert_eq!(m.v2.as_deref(), Some("/system.slice/containerd.service"));
        assert_eq!(parse_membership("garbage\n::\n"), Membership::default());
    }

    #[test]
    fn usage_parsers() {
        assert_eq!(parse_cpu_stat(CPU_STAT), Some(8_431_952));
        assert_eq!(parse_cpu_stat("user_usec 5\n"), None);
        assert_eq!(parse_cpu_stat("usage_usec x\n"), None);
        assert_eq!(parse_cpuacct_usage("123456789\n"), Some(123_456));
        assert_eq!(parse_cpuacct_usage(""), None);
    }

    // A hybrid host (v1 controllers, v2 under unified/) and a v2-only one.
    const HYBRID_MOUNTS: &str =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    const V2_MOUNTS: &str =
        "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn candidate_paths() {
        let mounts = parse_mounts(HYBRID_MOUNTS);
        assert_eq!(mounts.len(), 2, "{mounts:?}");
        let c = candidates(&mounts, &parse_membership(V1_SELF));
        assert_eq!(
            c,
            vec![
                (
                    PathBuf::from(
                        "/sys/fs/cgroup/unified/system.slice/containerd.service/cpu.stat"
                    ),
                    Kind::V2
                ),
                (
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/docker/4f1c/cpuacct.usage"),
                    Kind::V1
                ),
            ]
        );
        let c = candidates(&parse_mounts(V2_MOUNTS), &parse_membership(V2_SELF));
        assert_eq!(
            c,
            vec![(
                PathBuf::from("/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/cpu.stat"),
                Kind::V2
            )]
        );
        // Inside a container with a cgroup namespace: root is the mount's.
        let ns = "50 40 0:26 /kubepods/pod1 /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n";
        let c = candidates(
            &parse_mounts(ns),
            &parse_membership("0::/kubepods/pod1/c2\n"),
        );
        assert_eq!(c[0].0, PathBuf::from("/sys/fs/cgroup/c2/cpu.stat"));
        let c = candidates(&parse_mounts(V2_MOUNTS), &parse_membership("0::/\n"));
        assert_eq!(c[0].0, PathBuf::from("/sys/fs/cgroup/cpu.stat"));
    }

    #[test]
    fn sample_on_this_machine_does_not_panic() {
        // Either a counter or none (a host without cgroup files); when there
        // is one it moves forward with our own work.
        if let Some(a) = sample() {
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
            assert!(sample().unwrap_or(0) >= a);
        }
    }
}
