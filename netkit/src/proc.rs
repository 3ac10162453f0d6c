//! Child processes we own (netbench's servers and tools, a test's peers):
//! spawn, capture, wait with a deadline, kill by PID on drop.
//!
//! Only processes started through [`ChildGuard`] are ever signalled, and only
//! while they are still our un-reaped children, so a PID can never refer to
//! someone else's process.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How often waits poll the child or the port.
const POLL: Duration = Duration::from_millis(10);
/// How long to wait for the output pipes to drain after the child ended
/// (a grandchild might keep them open; we do not wait for it forever).
const DRAIN: Duration = Duration::from_secs(2);

/// A running child process with captured stdout/stderr, killed on drop.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    program: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    drained: Receiver<()>,
    readers_left: usize,
    status: Option<ExitStatus>,
}

/// What a finished child left behind.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit status (a signal status when it was killed after the deadline).
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// True when the deadline passed and the child was killed.
    pub timed_out: bool,
}

impl Finished {
    /// stdout as text (lossy UTF-8).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (lossy UTF-8).
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit code, `None` when ended by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl ChildGuard {
    /// Spawn `cmd` with stdin from /dev/null and stdout/stderr captured.
    pub fn spawn(cmd: &mut Command) -> io::Result<ChildGuard> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        crate::sys::raise_fd_limit();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {program}: {e}")))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, drained) = mpsc::channel();
        let mut readers_left = 0;
        if let Some(pipe) = child.stdout.take() {
            spawn_reader(pipe, Arc::clone(&stdout), tx.clone());
            readers_left += 1;
        }
        if let Some(pipe) = child.stderr.take() {
            spawn_reader(pipe, Arc::clone(&stderr), tx);
            readers_left += 1;
        }
        Ok(ChildGuard {
            child,
            program,
            stdout,
            stderr,
            drained,
            readers_left,
            status: None,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// stdout captured so far.
    pub fn stdout(&self) -> Vec<u8> {
        lock(&self.stdout).clone()
    }

    /// stderr captured so far.
    pub fn stderr(&self) -> Vec<u8> {
        lock(&self.stderr).clone()
    }

    /// stderr captured so far, as text.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// The exit status if the child has ended (non-blocking).
    pub fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_status(), Ok(None))
    }

    /// Wait up to `timeout` for the child to exit; `Ok(None)` if it is still
    /// running afterwards (it is left running).
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(POLL);
        }
    }

    /// Wait until `addr` accepts TCP connections. Fails early, with the
    /// child's stderr in the message, if the child exits first.
    pub fn wait_for_port(&mut self, addr: SocketAddr, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                self.drain();
                return Err(io::Error::other(format!(
                    "{} exited ({status}) before {addr} accepted connections; stderr:\n{}",
                    self.program,
                    self.stderr_str()
                )));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} did not accept on {addr} within {timeout:?}; stderr:\n{}",
                        self.program,
                        self.stderr_str()
                    ),
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Send `signal` (e.g. `libc::SIGINT`) to the child, if it is still
    /// running. Errors when it already exited (its PID may be reused).
    pub fn signal(&mut self, signal: i32) -> io::Result<()> {
        if self.try_status()?.is_some() {
            return Err(io::Error::other(format!("{} already exited", self.program)));
        }
        // Not reaped yet, so the PID is still ours even if it just exited.
        crate::sys::send_signal(self.pid(), signal)
    }

    /// Kill the child (SIGKILL) and reap it. No-op if it already exited.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_status()? {
            return Ok(status);
        }
        self.child.kill()?;
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    /// Wait up to `timeout` for the child to exit (killing it after that),
    /// then return its status and complete output.
    pub fn finish(mut self, timeout: Duration) -> io::Result<Finished> {
        let (status, timed_out) = match self.wait_timeout(timeout)? {
            Some(status) => (status, false),
            None => (self.kill()?, true),
        };
        self.drain();
        Ok(Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            timed_out,
        })
    }

    /// After exit: wait (bounded) until the output pipes reached EOF so the
    /// captured output is complete. Each reader reports once.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN;
        while self.readers_left > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.drained.recv_timeout(left).is_err() {
                break;
            }
            self.readers_left -= 1;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Best effort: the child is ours; errors here mean it is gone.
        let _ = self.kill();
    }
}

/// Run `cmd` to completion with a deadline (killed after `timeout`).
pub fn run(cmd: &mut Command, timeout: Duration) -> io::Result<Finished> {
    ChildGuard::spawn(cmd)?.finish(timeout)
}

/// Whether `addr` accepts a TCP connection within `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => lock(&sink).extend_from_slice(&buf[..n]),
            }
        }
        let _ = done.send(());
    });
}

/// Lock ignoring poisoning: the buffers stay valid even if a reader panicked.
fn lock(m: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn run_captures_both_streams_and_code() {
        let out = run(
            &mut sh("printf out; printf err >&2; exit 3"),
            Duration::from_secs(10),
        )
        .expect("run sh");
        assert_eq!(out.stdout, b"out");
        assert_eq!(out.stderr, b"err");
        assert_eq!(out.code(), Some(3));
        assert!(!out.timed_out);
    }

    #[test]
    fn finish_kills_after_deadline() {
        let start = Instant::now();
        let out = run(
            &mut sh("echo started; exec sleep 30"),
            Duration::from_millis(300),
        )
        .expect("run sleep");
        assert!(out.timed_out);
        assert_eq!(out.code(), None, "killed by a signal");
        assert_eq!(out.stdout_str(), "started\n");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn drop_kills_the_child() {
        let mut child = ChildGuard::spawn(&mut sh("exec sleep 30")).expect("spawn");
        let pid = child.pid();
        assert!(child.is_running());
        assert_eq!(
            child.wait_timeout(Duration::from_millis(50)).expect("wait"),
            None
        );
        drop(child);
        // Reaped by the guard: /proc entry gone.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn signal_reaches_the_child() {
        let mut child = ChildGuard::spawn(&mut sh(
            "trap 'echo got-int; exit 7' INT; while :; do sleep 0.05; done",
        ))
        .expect("spawn");
        thread::sleep(Duration::from_millis(200));
        child.signal(libc::SIGINT).expect("signal");
        let out = child.finish(Duration::from_secs(5)).expect("finish");
        assert_eq!(out.code(), Some(7));
        assert_eq!(out.stdout_str(), "got-int\n");
    }

    #[test]
    fn signal_after_exit_is_refused() {
        let mut child = ChildGuard::spawn(&mut sh("exit 0")).expect("spawn");
        assert!(child
            .wait_timeout(Duration::from_secs(5))
            .expect("wait")
            .is_some());
        assert!(child.signal(libc::SIGTERM).is_err());
    }

    #[test]
    fn wait_for_port_sees_listener_and_early_exit() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        assert!(wait_for_port(addr, Duration::from_secs(1)));
        drop(l);
        let mut child = ChildGuard::spawn(&mut sh("echo boom >&2; exit 1")).expect("spawn");
        let err = child
            .wait_for_port(addr, Duration::from_secs(5))
            .expect_err("exited");
        assert!(err.to_string().contains("boom"), "{err}");
    }
}
