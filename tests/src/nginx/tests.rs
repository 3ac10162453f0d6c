use super::*;
use crate::client::{self, Conn};

#[test]
fn serves_the_site_over_keep_alive() {
    let Some(nginx) = Nginx::start(Options::default()) else {
        return;
    };
    let mut c = Conn::connect(nginx.http_addr()).expect("connect");
    let r = c.get("/small.txt").expect("small");
    assert_eq!((r.status, r.body.as_slice()), (200, site::SMALL_TXT));
    assert!(r.header("server").is_some_and(|s| s.starts_with("nginx")));
    let r = c.get("/").expect("index");
    assert_eq!((r.status, r.body.len()), (200, site::INDEX_LEN));
    assert_eq!(
        c.get("/index.html").expect("index").body.len(),
        site::INDEX_LEN
    );
    assert_eq!(c.get("/big.bin").expect("big").body.len(), site::BIG_LEN);
    assert_eq!(c.get("/no-such-page").expect("404").status, 404);
    assert!(nginx
        .http_url("/small.txt")
        .starts_with("http://127.0.0.1:"));
}

#[test]
fn drop_kills_nginx_and_removes_prefix() {
    let Some(nginx) = Nginx::start(Options::default()) else {
        return;
    };
    let (pid, addr, prefix) = (nginx.pid(), nginx.http_addr(), nginx.prefix().to_path_buf());
    assert!(prefix.join("conf/nginx.conf").exists());
    drop(nginx);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process gone");
    assert!(client::get(addr, "/").is_err(), "port closed");
    assert!(!prefix.exists(), "prefix removed");
}

#[test]
fn tls_and_ipv6_listeners() {
    let Some(nginx) = Nginx::start(Options {
        tls: true,
        ipv6: true,
        ..Options::default()
    }) else {
        return;
    };
    let https = nginx.https_addr().expect("tls listener");
    assert!(crate::proc::wait_for_port(https, Duration::from_secs(1)));
    assert!(nginx.https_url("/").starts_with("https://127.0.0.1:"));
    if let Some(openssl) = crate::stock::find("openssl") {
        // A real handshake: s_client prints the peer certificate subject.
        let out = crate::proc::run(
            Command::new(openssl)
                .args(["s_client", "-connect"])
                .arg(https.to_string())
                .args(["-servername", "localhost"])
                .stdin(std::process::Stdio::null()),
            Duration::from_secs(20),
        )
        .expect("s_client");
        assert!(
            out.stdout_str().contains("CN = localhost")
                || out.stdout_str().contains("CN=localhost"),
            "{}",
            out.stdout_str()
        );
    }
    match nginx.http6_url("/small.txt") {
        Some(url) => {
            assert!(url.starts_with("http://[::1]:"));
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), nginx.http_addr().port());
            assert_eq!(
                client::get(v6, "/small.txt").expect("v6").body,
                site::SMALL_TXT
            );
        }
        None => eprintln!("skipping ipv6 part: no IPv6 loopback"),
    }
}

#[test]
fn stock_wrk_loads_nginx_without_errors() {
    let Some(wrk) = crate::stock::require("wrk") else {
        return;
    };
    let Some(nginx) = Nginx::start(Options::default()) else {
        return;
    };
    let out = crate::proc::run(
        Command::new(wrk)
            .args(["-t1", "-c200", "-d1s"])
            .arg(nginx.http_url("/small.txt")),
        Duration::from_secs(30),
    )
    .expect("run wrk");
    let text = out.stdout_str();
    assert_eq!(out.code(), Some(0), "{text}{}", out.stderr_str());
    assert!(text.contains(" requests in "), "{text}");
    assert!(
        !text.contains("Socket errors"),
        "{text}\n{}",
        nginx.error_log()
    );
    assert!(!text.contains("Non-2xx"), "{text}");
}
