//! `netbench serve-http ADDR`: the HTTP target of the embedded default run,
//! as its own process so it can be started inside a network namespace with
//! `ip netns exec`. It is the test kit's hyper server (small body on `/`)
//! and runs until SIGINT/SIGTERM or until netbench kills it.

use std::net::SocketAddr;
use std::time::Duration;

use testkit::http::HttpTarget;

use crate::sys;

/// Serves until interrupted.
pub fn serve(addr: &str) -> Result<(), String> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("serve-http: bad address {addr:?}: {e}"))?;
    sys::install_interrupt_handler();
    let target = HttpTarget::start_on(addr)
        .map_err(|e| format!("serve-http: cannot listen on {addr}: {e}"))?;
    while !sys::interrupted() {
        std::thread::sleep(Duration::from_millis(200));
    }
    target.stop();
    Ok(())
}
