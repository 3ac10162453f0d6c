//! One-shot per-connection timers (delay() waits, `-R` pacing).
//!
//! A min-heap of (due µs, connection, generation). Each connection has at
//! most one armed timer, so with capacity reserved up front arming never
//! allocates. Entries of a connection that was reconnected since (other
//! generation) are skipped by the caller.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A fired timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timer {
    pub due_us: u64,
    pub conn: u32,
    pub generation: u32,
}

/// Pending timers ordered by due time.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    /// Room for `n` timers without reallocating.
    pub fn with_capacity(n: usize) -> Timers {
        Timers {
            heap: BinaryHeap::with_capacity(n),
        }
    }

    pub fn arm(&mut self, due_us: u64, conn: u32, generation: u32) {
        self.heap.push(Reverse(Timer {
            due_us,
            conn,
            generation,
        }));
    }

    /// Due time of the earliest timer.
    pub fn next_due(&self) -> Option<u64> {
        self.heap.peek().map(|t| t.0.due_us)
    }

    /// Removes and returns the earliest timer if it is due at `now_us`.
    pub fn pop_due(&mut self, now_us: u64) -> Option<Timer> {
        if self.next_due()? <= now_us {
            self.heap.pop().map(|t| t.0)
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_order_when_due() {
        let mut t = Timers::with_capacity(4);
        t.arm(300, 1, 0);
        t.arm(100, 2, 5);
        t.arm(200, 3, 0);
        assert_eq!(t.next_due(), Some(100));
        assert_eq!(t.pop_due(99), None);
        assert_eq!(
            t.pop_due(250),
            Some(Timer {
                due_us: 100,
                conn: 2,
                generation: 5
            })
        );
        assert_eq!(t.pop_due(250).map(|x| x.conn), Some(3));
        assert_eq!(t.pop_due(250), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.pop_due(u64::MAX).map(|x| x.conn), Some(1));
        assert!(t.is_empty());
    }
}
