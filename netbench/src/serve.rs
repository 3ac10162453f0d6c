//! `netbench serve-http ADDR`: the HTTP target of the embedded default run,
//! as its own process so it can be started inside a network namespace with
//! `ip netns exec`. It is netkit's hyper server (small body on `/`) and runs
//! until SIGINT/SIGTERM or until netbench kills it. Once listening it prints
//! `LISTENING <addr>` on stdout, so with port 0 the caller learns the port
//! the kernel picked instead of guessing a free one.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use netkit::http::HttpTarget;

use crate::sys;

/// The start of the line announcing the bound address.
pub const LISTENING: &str = "LISTENING ";

/// Serves until interrupted.
pub fn serve(addr: &str) -> Result<(), String> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("serve-http: bad address {addr:?}: {e}"))?;
    sys::install_interrupt_handler();
    let target = HttpTarget::start_on(addr)
        .map_err(|e| format!("serve-http: cannot listen on {addr}: {e}"))?;
    let mut out = std::io::stdout().lock();
    // A closed stdout only means nobody waits for the address.
    let _ = writeln!(out, "{LISTENING}{}", target.addr()).and_then(|()| out.flush());
    drop(out);
    while !sys::interrupted() {
        std::thread::sleep(Duration::from_millis(200));
    }
    target.stop();
    Ok(())
}
