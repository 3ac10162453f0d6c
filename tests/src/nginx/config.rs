//! The generated `nginx.conf` (pure text from plain data) and the probe of
//! which optional modules the installed nginx has.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Which ports to listen on.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    pub http_port: u16,
    pub tls_port: Option<u16>,
    pub ipv6: bool,
}

/// Output of `nginx -V` (configure arguments), empty if it cannot run.
pub fn build_info(nginx: &Path) -> String {
    crate::proc::run(Command::new(nginx).arg("-V"), Duration::from_secs(10))
        .map(|o| o.stderr_str() + &o.stdout_str())
        .unwrap_or_default()
}

/// Modules with their own temp path; each default lives under /var/lib/nginx,
/// which a non-root user cannot create, so every present one is redirected.
const TEMP_MODULES: &[&str] = &["proxy", "fastcgi", "uwsgi", "scgi"];

/// The whole config.
pub fn render(prefix: &Path, listen: &Listen, build_info: &str, extra_server: &str) -> String {
    let p = prefix.display();
    let mut c = String::new();
    // Single process: the PID we hold is the server (no master/worker split,
    // and as root no privilege drop to a user that could not read /tmp).
    let _ = writeln!(c, "daemon off;\nmaster_process off;\nworker_processes 1;");
    let _ = writeln!(c, "worker_rlimit_nofile 65535;");
    let _ = writeln!(
        c,
        "pid {p}/logs/nginx.pid;\nerror_log {p}/logs/error.log warn;"
    );
    let _ = writeln!(
        c,
        "events {{\n    worker_connections 20000;\n    multi_accept on;\n}}"
    );
    let _ = writeln!(c, "http {{");
    let _ = writeln!(c, "    access_log off;");
    let _ = writeln!(c, "    default_type application/octet-stream;");
    let _ = writeln!(
        c,
        "    types {{ text/html html; text/plain txt; application/octet-stream bin; }}"
    );
    let _ = writeln!(
        c,
        "    sendfile on;\n    tcp_nopush on;\n    tcp_nodelay on;"
    );
    let _ = writeln!(
        c,
        "    keepalive_requests 100000;\n    keepalive_timeout 65;"
    );
    let _ = writeln!(c, "    client_body_temp_path {p}/tmp/body;");
    for m in TEMP_MODULES {
        if !build_info.contains(&format!("--without-http_{m}_module")) {
            let _ = writeln!(c, "    {m}_temp_path {p}/tmp/{m};");
        }
    }
    let _ = writeln!(c, "    server {{");
    let _ = writeln!(c, "        listen 127.0.0.1:{};", listen.http_port);
    if listen.ipv6 {
        let _ = writeln!(c, "        listen [::1]:{};", listen.http_port);
    }
    if let Some(tls) = listen.tls_port {
        let _ = writeln!(c, "        listen 127.0.0.1:{tls} ssl;");
        if listen.ipv6 {
            let _ = writeln!(c, "        listen [::1]:{tls} ssl;");
        }
        let _ = writeln!(c, "        ssl_certificate {p}/tls/cert.pem;");
        let _ = writeln!(c, "        ssl_certificate_key {p}/tls/key.pem;");
    }
    let _ = writeln!(c, "        root {p}/html;\n        index index.html;");
    if !extra_server.is_empty() {
        let _ = writeln!(c, "        {extra_server}");
    }
    let _ = writeln!(c, "    }}\n}}");
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_the_documented_settings() {
        let listen = Listen {
            http_port: 1234,
            tls_port: Some(1235),
            ipv6: true,
        };
        let c = render(
            Path::new("/p"),
            &listen,
            "--without-http_uwsgi_module",
            "location /x { return 204; }",
        );
        for needle in [
            "daemon off;",
            "master_process off;",
            "worker_rlimit_nofile 65535;",
            "worker_connections 20000;",
            "access_log off;",
            "keepalive_requests 100000;",
            "listen 127.0.0.1:1234;",
            "listen [::1]:1234;",
            "listen 127.0.0.1:1235 ssl;",
            "ssl_certificate /p/tls/cert.pem;",
            "root /p/html;",
            "proxy_temp_path /p/tmp/proxy;",
            "location /x { return 204; }",
        ] {
            assert!(c.contains(needle), "missing {needle:?} in\n{c}");
        }
        assert!(!c.contains("uwsgi_temp_path"), "module compiled out");
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }
}
