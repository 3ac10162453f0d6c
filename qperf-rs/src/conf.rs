//! The `conf` test's local half (spec §4.7, §6.7): node name, CPU
//! description from `/proc/cpuinfo`, OS name and release, qperf version.

use crate::proto::Conf;
use crate::wire::VERSION_TEXT;

/// This host's configuration as both the client and the server report it.
pub fn local() -> Conf {
    let (node, os) = uname();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| cpu_description(&t))
        .unwrap_or_default();
    Conf {
        node: cut63(&node),
        cpu,
        os: cut63(&os),
        qperf: VERSION_TEXT.to_string(),
    }
}

fn cut63(s: &str) -> String {
    let mut n = s.len().min(63);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s[..n].to_string()
}

/// (nodename, "SYSNAME RELEASE") from uname(2).
fn uname() -> (String, String) {
    let (node, sys, release) = crate::sys::uname();
    if sys.is_empty() {
        return (node, String::new());
    }
    (node, format!("{sys} {release}"))
}

fn starts_with_ci(line: &str, prefix: &str) -> bool {
    line.len() >= prefix.len()
        && line.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Text after the first `:` with leading spaces removed.
fn after_colon(line: &str) -> &str {
    line.split_once(':')
        .map_or("", |(_, v)| v.trim_start_matches(' '))
}

/// Drops `(R)`, `(TM)`, `CPU `, `processor ` (case-insensitive), a space
/// followed by another space, and newlines, scanning left to right.
fn clean_name(s: &str) -> String {
    const DROP: [&str; 4] = ["(R)", "(TM)", "CPU ", "processor "];
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    'scan: while i < b.len() {
        for d in DROP {
            if b.len() - i >= d.len() && b[i..i + d.len()].eq_ignore_ascii_case(d.as_bytes()) {
                i += d.len();
                continue 'scan;
            }
        }
        let c = b[i];
        let drop_space = c == b' ' && b.get(i + 1) == Some(&b' ');
        if !drop_space && c != b'\n' {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The CPU description of §6.7 from the text of `/proc/cpuinfo`.
pub fn cpu_description(cpuinfo: &str) -> String {
    let mut count = 0usize;
    let mut model: Option<&str> = None;
    let mut mhz: Option<&str> = None;
    let mut mixed = false;
    for line in cpuinfo.lines() {
        if starts_with_ci(line, "model name") {
            count += 1;
            match model {
                None => model = Some(line),
                Some(m) if m != line => mixed = true,
                _ => {}
            }
        } else if starts_with_ci(line, "cpu MHz") {
            match mhz {
                None => mhz = Some(line),
                Some(m) if m != line => mixed = true,
                _ => {}
            }
        }
    }
    let Some(model) = model else {
        return String::new();
    };
    let name = if mixed {
        "Mixed CPUs".to_string()
    } else {
        clean_name(after_colon(model))
    };
    let mut speed = String::new();
    if !mixed && !name.ends_with("Hz") {
        if let Some(m) = mhz {
            let v = after_colon(m);
            let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
            let n: u64 = digits.parse().unwrap_or(0);
            speed = if n < 1000 {
                format!(" {n}MHz")
            } else {
                format!(" {:.1}GHz", n as f64 / 1000.0)
            };
        }
    }
    let prefix = if count == 1 {
        String::new()
    } else {
        format!("{count} Cores: ")
    };
    cut63(&format!("{prefix}{name}{speed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epyc_two_cores() {
        let one = "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.096\n\n";
        let text = format!("{one}{}", one.replace(": 0", ": 1"));
        assert_eq!(cpu_description(&text), "2 Cores: AMD EPYC 2.6GHz");
    }

    #[test]
    fn intel_name_cleaned() {
        let t = "model name\t: Intel(R) Xeon(R) CPU E5-2680  v4 @ 2.40GHz\ncpu MHz : 2400.0\n";
        assert_eq!(cpu_description(t), "Intel Xeon E5-2680 v4 @ 2.40GHz");
    }

    #[test]
    fn mixed_when_mhz_differ() {
        let t = "model name : X\ncpu MHz : 1000\nmodel name : X\ncpu MHz : 1200\n";
        assert_eq!(cpu_description(t), "2 Cores: Mixed CPUs");
    }

    #[test]
    fn low_mhz() {
        assert_eq!(
            cpu_description("model name : X\ncpu MHz : 800.5\n"),
            "X 800MHz"
        );
    }

    #[test]
    fn local_has_version() {
        let c = local();
        assert_eq!(c.qperf, "0.4.11");
        assert!(c.os.starts_with("Linux "));
    }
}
