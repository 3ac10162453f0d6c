//! [`Nginx`]: the system nginx as a child process in a temporary prefix, for
//! side-by-side runs of our `wrk` and the stock one against a real server.
//!
//! One process (`daemon off; master_process off;`) so the PID we hold is the
//! server itself and killing it on drop leaves nothing behind. Works as root
//! (no privilege drop happens without a master) and as a normal user (every
//! path nginx writes is inside the prefix). The site mirrors the servers the
//! golden files were captured against ([`site`]).

mod config;
pub mod site;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::ChildGuard;
use crate::tmp::TempDir;

/// How long nginx (and openssl) get to come up.
const STARTUP: Duration = Duration::from_secs(20);
/// Port races are retried this often.
const ATTEMPTS: usize = 5;

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also listen with TLS (self-signed certificate made with `openssl`).
    pub tls: bool,
    /// Also listen on `[::1]` (same ports), when the host has IPv6 loopback.
    pub ipv6: bool,
    /// Raw directives appended inside the `server { }` block.
    pub extra_server: String,
}

/// A running nginx; killed (by PID) and its prefix removed on drop.
#[derive(Debug)]
pub struct Nginx {
    // Field order matters: the process dies before its prefix is removed.
    child: ChildGuard,
    http: SocketAddr,
    https: Option<SocketAddr>,
    ipv6: bool,
    prefix: TempDir,
}

impl Nginx {
    /// Start the system nginx, or `None` (after printing `skipping: ...`)
    /// when nginx — or, with `tls`, openssl — is not installed. Under
    /// `NETBENCH_REQUIRE_STOCK=1` a missing tool panics instead.
    ///
    /// # Panics
    /// When nginx is installed but does not start (the message carries its
    /// error log).
    pub fn start(opts: Options) -> Option<Nginx> {
        let nginx = crate::stock::require("nginx")?;
        if opts.tls {
            crate::stock::require("openssl")?;
        }
        Some(
            Self::launch(&nginx, &opts)
                .unwrap_or_else(|e| panic!("testkit: nginx did not start: {e}")),
        )
    }

    /// Start `nginx_bin` with `opts`, reporting failures.
    pub fn launch(nginx_bin: &Path, opts: &Options) -> io::Result<Nginx> {
        let prefix = TempDir::new("nginx")?;
        site::write(prefix.path())?;
        if opts.tls {
            make_certificate(prefix.path())?;
        }
        let ipv6 = opts.ipv6 && crate::ports::ipv6_loopback_available();
        let version = config::build_info(nginx_bin);
        let mut last_err = None;
        for _ in 0..ATTEMPTS {
            let (http_port, tls_port) = pick_ports(ipv6)?;
            let listen = config::Listen {
                http_port,
                tls_port: opts.tls.then_some(tls_port),
                ipv6,
            };
            let conf = config::render(prefix.path(), &listen, &version, &opts.extra_server);
            let conf_path = prefix.join("conf/nginx.conf");
            std::fs::write(&conf_path, conf)?;
            let mut cmd = Command::new(nginx_bin);
            cmd.arg("-p")
                .arg(prefix.path())
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(prefix.join("logs/error.log"));
            let mut child = ChildGuard::spawn(&mut cmd)?;
            let http = SocketAddr::from((Ipv4Addr::LOCALHOST, http_port));
            let https = listen
                .tls_port
                .map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)));
            let mut ready = child.wait_for_port(http, STARTUP);
            if let (Ok(()), Some(addr)) = (&ready, https) {
                ready = child.wait_for_port(addr, STARTUP);
            }
            match ready {
                Ok(()) => {
                    return Ok(Nginx {
                        child,
                        http,
                        https,
                        ipv6,
                        prefix,
                    })
                }
                Err(e) => {
                    let log =
                        std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default();
                    let in_use = log.contains("Address already in use");
                    last_err = Some(io::Error::other(format!("{e}\nerror.log:\n{log}")));
                    drop(child);
                    if !in_use {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("nginx did not start")))
    }

    /// The plain-HTTP listener on 127.0.0.1.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The TLS listener on 127.0.0.1, when started with `tls`.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn http_url(&self, path: &str) -> String {
        url("http", self.http, path)
    }

    /// `https://127.0.0.1:<port><path>`.
    ///
    /// # Panics
    /// When started without `tls` (a mistake in the test).
    pub fn https_url(&self, path: &str) -> String {
        let addr = self
            .https
            .unwrap_or_else(|| panic!("testkit: Nginx was started without tls"));
        url("https", addr, path)
    }

    /// `http://[::1]:<port><path>` when the IPv6 listener is on.
    pub fn http6_url(&self, path: &str) -> Option<String> {
        self.ipv6.then(|| {
            url(
                "http",
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.http.port()),
                path,
            )
        })
    }

    /// The nginx process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The temporary prefix (config, html root, logs).
    pub fn prefix(&self) -> &Path {
        self.prefix.path()
    }

    /// The error log so far (for test failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("logs/error.log")).unwrap_or_default()
    }
}

fn url(scheme: &str, addr: SocketAddr, path: &str) -> String {
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("{scheme}://{addr}{slash}{path}")
}

/// Two distinct ports, free on ::1 too when `ipv6`.
fn pick_ports(ipv6: bool) -> io::Result<(u16, u16)> {
    if !ipv6 {
        return Ok(crate::ports::free_port_pair());
    }
    let a = crate::ports::free_port_dual();
    let b = crate::ports::free_port_dual();
    match (a, b) {
        (Some(a), Some(b)) if a != b => Ok((a, b)),
        _ => Err(io::Error::other("no port free on both 127.0.0.1 and ::1")),
    }
}

/// Self-signed certificate for `localhost` in `<prefix>/tls/`.
fn make_certificate(prefix: &Path) -> io::Result<()> {
    let openssl = crate::stock::find("openssl")
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "openssl not installed"))?;
    let dir: PathBuf = prefix.join("tls");
    std::fs::create_dir_all(&dir)?;
    let out = crate::proc::run(
        Command::new(openssl)
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
            .args(["-subj", "/CN=localhost", "-days", "1", "-keyout"])
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem")),
        STARTUP,
    )?;
    if out.code() != Some(0) {
        return Err(io::Error::other(format!(
            "openssl req failed: {}",
            out.stderr_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
