//! Hot-path check: a keep-alive run performs no heap allocation per request.
//!
//! A counting global allocator (this test binary only) counts allocations
//! made on the engine's worker thread (named `wrk-<index>` by
//! `start_thread`). Set-up (connections, buffers, histogram pages on first
//! touch) allocates a bounded amount; thousands of requests must not add to
//! it in proportion.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use testkit::http::HttpTarget;
use wrk_rs::engine::{start_thread, EngineConfig, FatalSlot};

/// Worker thread name used by this test (unique among the test's threads).
const WORKER: &str = "wrk-77";

struct Counting;

static WORKER_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// 0 unknown, 1 worker thread, 2 other thread.
    static KIND: Cell<u8> = const { Cell::new(0) };
}

fn on_worker() -> bool {
    KIND.with(|k| match k.get() {
        1 => true,
        2 => false,
        _ => {
            // Mark first: looking at the name must not recurse into us.
            k.set(2);
            let me = std::thread::current();
            let is = me.name() == Some(WORKER);
            k.set(if is { 1 } else { 2 });
            is
        }
    })
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_worker() {
            WORKER_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_worker() {
            WORKER_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn keep_alive_requests_do_not_allocate() {
    let srv = HttpTarget::start();
    let addr: SocketAddr = srv.addr();
    let cfg = EngineConfig {
        index: 77,
        addr,
        unix_socket: None,
        tls_server_name: None,
        connections: 8,
        timeout_ms: 2000,
        request: Arc::new(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()),
        pipeline: 1,
        rate: None,
        script_shape: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let h = start_thread(cfg, None, stop.clone(), FatalSlot::detached()).expect("thread");
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let r = h.join();
    let allocs = WORKER_ALLOCS.load(Ordering::Relaxed);
    eprintln!(
        "{} requests, {allocs} allocations on the worker thread",
        r.complete
    );
    assert!(
        r.complete > 1000,
        "too few requests to judge: {}",
        r.complete
    );
    assert!(
        allocs * 20 < r.complete,
        "{allocs} allocations for {} requests",
        r.complete
    );
}
