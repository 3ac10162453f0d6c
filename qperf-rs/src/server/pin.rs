//! CPU pinning of the serving thread for one test (REQ.affinity, §4.4).

use crate::control::CtlError;
use crate::sys::{self, CpuSet};

/// CPU pinning of the serving thread for one test (REQ.affinity), undone on drop.
pub(super) struct Pin(Option<CpuSet>);

impl Pin {
    pub(super) fn apply(affinity: u32) -> Result<Pin, CtlError> {
        if affinity == 0 {
            return Ok(Pin(None));
        }
        let cpu = affinity - 1;
        let old = sys::affinity().ok();
        if sys::pin_to(cpu).is_err() {
            return Err(CtlError::Local(format!(
                "cannot set processor affinity (cpu {cpu}): Invalid argument"
            )));
        }
        Ok(Pin(old))
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = sys::set_affinity(old);
        }
    }
}
