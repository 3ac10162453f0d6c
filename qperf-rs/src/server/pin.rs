//! CPU pinning of the serving thread for one test (REQ.affinity, §4.4).

use crate::control::CtlError;

/// CPU pinning of the serving thread for one test (REQ.affinity), undone on drop.
pub(super) struct Pin(Option<libc::cpu_set_t>);

impl Pin {
    pub(super) fn apply(affinity: u32) -> Result<Pin, CtlError> {
        if affinity == 0 {
            return Ok(Pin(None));
        }
        let cpu = affinity - 1;
        // SAFETY: cpu_set_t is plain old data; the calls get valid pointers.
        unsafe {
            let mut old: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut old);
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let ok = (cpu as usize) < 8 * std::mem::size_of::<libc::cpu_set_t>() && {
                libc::CPU_SET(cpu as usize, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
            };
            if !ok {
                return Err(CtlError::Local(format!(
                    "cannot set processor affinity (cpu {cpu}): Invalid argument"
                )));
            }
            Ok(Pin(Some(old)))
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: restoring a mask obtained from sched_getaffinity.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &old) };
        }
    }
}
