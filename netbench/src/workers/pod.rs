//! A client pod's command and log: the tool runs with its seed command line
//! plus `--json FILE` (and `--start-at MS`) at the end; when it exits, a
//! `sh` wrapper prints a marker line and the document, so netbench gets
//! both the tool's text and its JSON from the one thing Kubernetes keeps of
//! a finished pod, its log. The exit status is the tool's.

/// Where the tool writes its document inside the pod.
pub const RESULT_FILE: &str = "/tmp/netbench-result.json";

/// The line between the tool's output and its document.
pub const MARKER: &str = "--- netbench: --json document follows ---";

/// `$0` of the wrapper (shows in `ps` on the node).
const ARGV0: &str = "netbench-worker";

/// The wrapper script: run the words after `$0`, keep their status, print
/// the marker and the document (nothing when the tool wrote none).
fn script() -> String {
    format!("\"$@\"; rc=$?; printf '\\n%s\\n' '{MARKER}'; cat {RESULT_FILE} 2>/dev/null; exit $rc")
}

/// The container command running `tool` (program and arguments, already
/// ending in `--json RESULT_FILE`) under the wrapper.
pub fn wrap(tool: Vec<String>) -> Vec<String> {
    ["sh".to_string(), "-c".into(), script(), ARGV0.into()]
        .into_iter()
        .chain(tool)
        .collect()
}

/// The tool's own command line inside a container command made by [`wrap`]
/// (the command as given when it is not wrapped).
pub fn unwrap(command: &[String]) -> &[String] {
    match command {
        [sh, c, s, argv0, rest @ ..]
            if sh == "sh" && c == "-c" && *s == script() && argv0 == ARGV0 =>
        {
            rest
        }
        other => other,
    }
}

/// Splits a pod log into the tool's output and its document (`None`: the
/// marker or the document is missing, e.g. the pod was killed).
pub fn split_log(log: &str) -> (String, Option<String>) {
    let Some(at) = log.rfind(MARKER) else {
        return (log.to_string(), None);
    };
    let before = &log[..at];
    // The wrapper's own newline in front of the marker.
    let text = before.strip_suffix('\n').unwrap_or(before);
    let doc = log[at + MARKER.len()..].trim();
    (text.to_string(), (!doc.is_empty()).then(|| doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_splits() {
        let tool: Vec<String> = ["wrk", "-t1", "http://a/", "--json", RESULT_FILE]
            .map(String::from)
            .to_vec();
        let cmd = wrap(tool.clone());
        assert_eq!(&cmd[..2], ["sh", "-c"]);
        assert_eq!(unwrap(&cmd), tool.as_slice());
        assert_eq!(unwrap(&tool), tool.as_slice());
        let log = format!("Running 1s test\nRequests/sec: 1\n\n{MARKER}\n{{\"a\":1}}\n");
        assert_eq!(
            split_log(&log),
            (
                "Running 1s test\nRequests/sec: 1\n".into(),
                Some("{\"a\":1}".into())
            )
        );
        assert_eq!(
            split_log(&format!("unable to connect\n\n{MARKER}\n")),
            ("unable to connect\n".into(), None)
        );
        assert_eq!(split_log("killed"), ("killed".into(), None));
    }

    /// The wrapper really runs the tool, keeps its status and appends the file.
    #[test]
    fn wrapper_runs_under_sh() {
        let dir = std::env::temp_dir().join(format!("nb-pod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("r.json");
        let cmd = wrap(vec![
            "sh".into(),
            "-c".into(),
            format!("echo text; echo '{{\"x\":2}}' > {}; exit 3", file.display()),
        ]);
        let script = cmd[2].replace(RESULT_FILE, &file.display().to_string());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .args(&cmd[3..])
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(out.status.code(), Some(3));
        let log = String::from_utf8_lossy(&out.stdout);
        assert_eq!(split_log(&log), ("text\n".into(), Some("{\"x\":2}".into())));
    }
}
