//! A provided buffer ring (`IORING_REGISTER_PBUF_RING`, kernel 5.19): the
//! pool multishot receives take their buffers from.
//!
//! The kernel picks a buffer when data arrives and names it in the CQE
//! (`IORING_CQE_F_BUFFER`, the id in the upper 16 bits of the flags). The
//! buffer is ours until we give it back with [`BufRing::recycle`]; recycled
//! entries become visible to the kernel at [`BufRing::publish`] (one release
//! store of the ring's tail for a whole batch of completions).

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// An anonymous private mapping, unmapped on drop (page-aligned, zeroed).
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p.cast())
            .map(|ptr| Mapping { ptr, len })
            .ok_or_else(|| io::Error::other("mmap returned null"))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; nothing refers to
        // the region once its owner is dropped (the ring is unregistered or
        // destroyed first, see `BufRing`'s users).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The ring of buffer descriptors plus the buffers themselves.
pub struct BufRing {
    ring: Mapping,
    bufs: Mapping,
    entries: u16,
    buf_size: u32,
    group: u16,
    /// Our tail (entries handed to the kernel so far), published lazily.
    tail: u16,
}

impl BufRing {
    /// Maps `entries` (a power of two, ≤ 32768) buffers of `buf_size` bytes
    /// and registers them with `ring` as buffer group `group`, all owned by
    /// the kernel.
    ///
    /// The caller must keep this value alive as long as `ring` may use the
    /// group (drop the `IoUring` first, or unregister).
    pub fn register(
        ring: &IoUring,
        group: u16,
        entries: u16,
        buf_size: u32,
    ) -> io::Result<BufRing> {
        if !entries.is_power_of_two() || entries > 32768 || buf_size == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let ring_len = entries as usize * std::mem::size_of::<BufRingEntry>();
        let mut br = BufRing {
            ring: Mapping::new(ring_len.max(4096))?,
            bufs: Mapping::new(entries as usize * buf_size as usize)?,
            entries,
            buf_size,
            group,
            tail: 0,
        };
        // SAFETY: the descriptor ring is a page-aligned mapping of
        // `entries` descriptors that lives as long as `br`, which the caller
        // keeps alive while the ring can use the group (documented above).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                br.ring.ptr.as_ptr() as u64,
                entries,
                group,
                0,
            )?;
        }
        for bid in 0..entries {
            br.recycle(bid);
        }
        br.publish();
        Ok(br)
    }

    pub fn group(&self) -> u16 {
        self.group
    }

    pub fn buf_size(&self) -> u32 {
        self.buf_size
    }

    /// The first `len` bytes of buffer `bid`, which a CQE just handed to us.
    ///
    /// Valid until the buffer is recycled; ids and lengths the kernel gives
    /// are always in range, anything else is clamped (an empty slice).
    pub fn get(&self, bid: u16, len: usize) -> &[u8] {
        if bid >= self.entries {
            return &[];
        }
        let len = len.min(self.buf_size as usize);
        // SAFETY: bid < entries, so the range lies inside the buffer
        // mapping; the kernel no longer writes to a buffer it has handed
        // out until we recycle it, which needs `&mut self`.
        unsafe {
            std::slice::from_raw_parts(
                self.bufs
                    .ptr
                    .as_ptr()
                    .add(bid as usize * self.buf_size as usize),
                len,
            )
        }
    }

    /// Gives buffer `bid` back (visible to the kernel after [`publish`]).
    ///
    /// [`publish`]: BufRing::publish
    pub fn recycle(&mut self, bid: u16) {
        if bid >= self.entries {
            return;
        }
        let mask = self.entries - 1;
        let slot = (self.tail & mask) as usize;
        // SAFETY: slot < entries, inside the descriptor mapping; the kernel
        // reads descriptors only between its head and the published tail,
        // and this slot is past the published tail.
        unsafe {
            let e = &mut *self.ring.ptr.as_ptr().cast::<BufRingEntry>().add(slot);
            e.set_addr(
                self.bufs
                    .ptr
                    .as_ptr()
                    .add(bid as usize * self.buf_size as usize) as u64,
            );
            e.set_len(self.buf_size);
            e.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes every recycled buffer available to the kernel.
    pub fn publish(&mut self) {
        let base = self.ring.ptr.as_ptr().cast::<BufRingEntry>();
        // SAFETY: the tail is the u16 in the first descriptor's reserved
        // field (the kernel's io_uring_buf_ring layout); it is aligned and
        // shared with the kernel, hence the atomic release store, which
        // orders the descriptor writes before it.
        unsafe {
            let tail = BufRingEntry::tail(base) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

// SAFETY: the mappings are owned exclusively; nothing is thread-bound.
unsafe impl Send for BufRing {}
