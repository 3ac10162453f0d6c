//! Targets-file parsing and its error messages (line and field named).

use super::*;

const GOOD: &str = r#"
[defaults]
duration = "30s"
threads = 8
msg_sizes = "1:4K:*64"

[[target]]
name = "host"
qperf_host = "10.0.0.1"
wrk_url = "http://10.0.0.1:8080/"

[[target]]
name = "runc"
qperf_host = "10.1.0.5"
lp = 4000
ip = 4001
wrk_url = "http://10.1.0.5:8080/"
connections = 1000
qperf_time = "2"
"#;

fn err(text: &str) -> ConfigError {
    parse(text, "t.toml").expect_err("must be rejected")
}

#[test]
fn parses_defaults_and_targets() {
    let f = parse(GOOD, "t.toml").expect("valid");
    assert_eq!(f.defaults.duration.as_deref(), Some("30s"));
    assert_eq!(f.defaults.threads, Some(8));
    assert_eq!(
        f.defaults.sweep.as_ref().map(|s| s.sizes().to_vec()),
        Some(vec![1, 64, 4096])
    );
    assert_eq!(f.targets.len(), 2);
    let runc = &f.targets[1];
    assert_eq!(runc.name, "runc");
    assert_eq!(
        runc.qperf,
        Some(QperfTarget {
            host: "10.1.0.5".into(),
            lp: Some(4000),
            ip: Some(4001)
        })
    );
    assert_eq!(runc.overrides.connections, Some(1000));
    assert_eq!(runc.overrides.qperf_time.as_deref(), Some("2"));
    assert_eq!(f.targets[0].overrides, Overrides::default());
}

#[test]
fn one_tool_per_target_is_enough() {
    let f = parse("[[target]]\nname = \"w\"\nwrk_url = \"https://x/\"\n", "t").expect("valid");
    assert!(f.targets[0].qperf.is_none());
}

#[test]
fn type_error_names_line_and_field() {
    let e = err("[[target]]\nname = \"a\"\nqperf_host = \"h\"\nthreads = \"many\"\n");
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(4), Some("threads")),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("t.toml: line 4, field `threads`: "),
        "{e}"
    );
}

#[test]
fn unknown_field_is_named() {
    let e = err("[[target]]\nname = \"a\"\nqperf_host = \"h\"\nconections = 5\n");
    assert_eq!(e.field.as_deref(), Some("conections"), "{e}");
    assert_eq!(e.line, Some(4), "{e}");
}

#[test]
fn missing_name_is_named() {
    let e = err("[[target]]\nqperf_host = \"h\"\n");
    assert_eq!(e.field.as_deref(), Some("name"), "{e}");
    assert_eq!(e.line, Some(1), "{e}");
}

#[test]
fn syntax_error_has_line() {
    let e = err("[[target]]\nname = \"a\nqperf_host = \"h\"\n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn port_out_of_range() {
    let e = err("[[target]]\nname = \"a\"\nqperf_host = \"h\"\n\nlp = 70000\n");
    assert_eq!((e.line, e.field.as_deref()), (Some(5), Some("lp")), "{e}");
    let e = err("[[target]]\nname = \"a\"\nqperf_host = \"h\"\nip = 0\n");
    assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("ip")), "{e}");
}

#[test]
fn semantic_errors_name_line_and_field() {
    let cases = [
        ("[defaults]\nduration = \"5 minutes\"\n[[target]]\nname = \"a\"\nqperf_host = \"h\"\n", 2, "duration"),
        ("[defaults]\nmsg_sizes = \"1:2\"\n[[target]]\nname = \"a\"\nqperf_host = \"h\"\n", 2, "msg_sizes"),
        ("[[target]]\nname = \"a\"\nqperf_host = \"h\"\nthreads = 0\n", 4, "threads"),
        ("[[target]]\nname = \"a\"\nwrk_url = \"ftp://x/\"\n", 3, "wrk_url"),
        ("[[target]]\nname = \"\"\nqperf_host = \"h\"\n", 2, "name"),
        ("[[target]]\nname = \"a\"\nqperf_host = \"h\"\n[[target]]\nname = \"a\"\nqperf_host = \"g\"\n", 5, "name"),
        ("[[target]]\nname = \"a\"\nqperf_host = \"two words\"\n", 3, "qperf_host"),
        ("[[target]]\nname = \"a\"\nlp = 4000\n", 3, "qperf_host"),
        ("[[target]]\nname = \"a\"\n", 1, "qperf_host"),
        ("[[target]]\nname = \"a\"\nqperf_host = \"h\"\nqperf_time = \"-1\"\n", 4, "qperf_time"),
    ];
    for (text, line, field) in cases {
        let e = err(text);
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(line), Some(field)),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn no_targets_is_an_error() {
    assert_eq!(err("").message, "no [[target]] entries");
    assert!(err("[defaults]\nthreads = 2\n")
        .to_string()
        .contains("no [[target]]"));
}

#[test]
fn garbage_never_panics() {
    for text in [
        "\u{0}",
        "[[target]",
        "target = 5",
        "[[target]]\nname = 1",
        "= =",
        "[a]\n[a]\n",
    ] {
        let _ = parse(text, "t");
    }
}
