//! A one-line progress display on stderr, only when stderr is a terminal
//! (so logs and pipes stay clean).

use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Progress state.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    total: usize,
    done: usize,
}

impl Progress {
    /// Enabled iff stderr is a terminal.
    pub fn auto() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// Explicitly on or off.
    pub fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            total: 0,
            done: 0,
        }
    }

    /// Sets the number of steps.
    pub fn start(&mut self, total: usize) {
        self.total = total;
        self.done = 0;
    }

    /// Announces the next step.
    pub fn step(&mut self, target: &str, tool: &str, limit: Duration) {
        self.done += 1;
        if self.enabled {
            let mut e = std::io::stderr().lock();
            let _ = write!(
                e,
                "\r\x1b[K[{}/{}] {target}: {tool} (up to {} s) ",
                self.done,
                self.total,
                limit.as_secs()
            );
            let _ = e.flush();
        }
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
