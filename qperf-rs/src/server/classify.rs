//! Single-port mode (our extension): which connection on the shared listen
//! socket is the data connection of the test that waits for one?  Sans-IO:
//! the caller reports arrivals, first bytes and the client's sync; the
//! [`Classifier`] answers with a [`Decision`].
//!
//! What the wire guarantees (spec §4.2, §4.5, §4.8): a control connection
//! sends its REQ right after connecting; a data connection stays silent
//! until *our* sync-before-test (only then does the client send data or its
//! first latency message); and the client sends its own sync only after its
//! data `connect()` returned, so once that sync is readable the data
//! connection is already in our accept queue.  Hence:
//!
//! - a connection that speaks (or closes) before our sync is a control
//!   connection (or a stray one); so is one from another peer address;
//! - a data connection is a silent one from the control peer's address,
//!   quiet for [`SETTLE`] after its arrival and after the client's sync (a
//!   second client's REQ arrives well within it);
//! - when several qualify (a stray silent connection), the newest wins: the
//!   data connection is made just before the client's sync;
//! - when the client has synced and none arrives within [`GRACE`], the data
//!   connection went elsewhere, e.g. to another replica behind a Service.

use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a candidate must stay silent before it counts as data.
pub const SETTLE: Duration = Duration::from_millis(20);
/// How long after the client's sync we wait for its data connection.
pub const GRACE: Duration = Duration::from_millis(1500);

/// A connection offered to the classifier, named by the caller's id.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    id: u64,
    at: Instant,
}

/// What the waiting test should do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing decided; ask again at this instant or on the next event.
    Wait(Instant),
    /// This connection is the data connection.
    Data(u64),
    /// The client synced but its data connection never reached us.
    Missing,
}

/// State of one wait for a data connection on the listen socket.
#[derive(Debug)]
pub struct Classifier {
    peer: IpAddr,
    silent: Vec<Candidate>,
    synced: Option<Instant>,
}

/// The address as one family (dual-stack listeners see `::ffff:a.b.c.d`).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Classifier {
    /// A wait for the data connection of the client at `peer`.
    pub fn new(peer: IpAddr) -> Classifier {
        Classifier {
            peer: canonical(peer),
            silent: Vec::new(),
            synced: None,
        }
    }

    /// A new connection `id` from `from`, accepted at `at`.  Returns false
    /// when it cannot be the data connection (another peer): hand it to the
    /// control path at once.
    pub fn arrived(&mut self, id: u64, from: IpAddr, at: Instant) -> bool {
        if canonical(from) != self.peer {
            return false;
        }
        self.silent.push(Candidate { id, at });
        true
    }

    /// Connection `id` sent bytes or closed before our sync: not data.
    pub fn spoke(&mut self, id: u64) {
        self.silent.retain(|c| c.id != id);
    }

    /// The client's sync-before-test is readable on the control connection.
    pub fn client_synced(&mut self, at: Instant) {
        self.synced.get_or_insert(at);
    }

    /// Ids still held as candidates (the caller watches them for bytes).
    pub fn held(&self) -> impl Iterator<Item = u64> + '_ {
        self.silent.iter().map(|c| c.id)
    }

    /// The decision at `now`.  After [`Decision::Data`] every other held
    /// candidate goes to the control path.
    pub fn decide(&self, now: Instant) -> Decision {
        let Some(synced) = self.synced else {
            return Decision::Wait(now + GRACE);
        };
        // Settled after its arrival and after the sync (so that a data
        // connection still on its way from the accept queue can win).
        let newest = self.silent.iter().max_by_key(|c| c.at);
        match newest {
            Some(c) if now >= c.at.max(synced) + SETTLE => Decision::Data(c.id),
            Some(c) => Decision::Wait(c.at.max(synced) + SETTLE),
            None if now >= synced + GRACE => Decision::Missing,
            None => Decision::Wait(synced + GRACE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 8));

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn the_silent_connection_of_a_synced_client_is_data() {
        let t0 = Instant::now();
        let mut c = Classifier::new(CLIENT);
        assert!(c.arrived(1, CLIENT, ms(t0, 1)));
        // Not before the client's sync, however long it stays silent.
        assert!(matches!(c.decide(ms(t0, 500)), Decision::Wait(_)));
        c.client_synced(ms(t0, 2));
        assert_eq!(c.decide(ms(t0, 5)), Decision::Wait(ms(t0, 2) + SETTLE));
        assert_eq!(c.decide(ms(t0, 2) + SETTLE), Decision::Data(1));
        // Long silent before the sync: still settles after the sync.
        let mut c = Classifier::new(CLIENT);
        c.arrived(1, CLIENT, t0);
        c.client_synced(ms(t0, 900));
        assert_eq!(c.decide(ms(t0, 901)), Decision::Wait(ms(t0, 900) + SETTLE));
    }

    #[test]
    fn dual_stack_addresses_match_their_ipv4_form() {
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 7).to_ipv6_mapped());
        let t0 = Instant::now();
        let mut c = Classifier::new(mapped);
        assert!(c.arrived(1, CLIENT, t0));
        let mut c = Classifier::new(CLIENT);
        assert!(c.arrived(1, mapped, t0));
        assert!(!c.arrived(2, IpAddr::V6(Ipv6Addr::LOCALHOST), t0));
    }

    #[test]
    fn a_second_client_arriving_in_the_window_is_queued_not_data() {
        let t0 = Instant::now();
        let mut c = Classifier::new(CLIENT);
        // The second client (same host) connects before the data
        // connection and sends its REQ a moment later.
        assert!(c.arrived(1, CLIENT, ms(t0, 1)));
        assert!(c.arrived(2, CLIENT, ms(t0, 2)));
        c.client_synced(ms(t0, 3));
        c.spoke(1);
        assert_eq!(c.decide(ms(t0, 3) + SETTLE), Decision::Data(2));
        // ... or just after it, inside the settle time.
        let mut c = Classifier::new(CLIENT);
        c.arrived(1, CLIENT, ms(t0, 1));
        c.client_synced(ms(t0, 2));
        c.arrived(2, CLIENT, ms(t0, 3));
        assert_eq!(c.decide(ms(t0, 10)), Decision::Wait(ms(t0, 3) + SETTLE));
        c.spoke(2);
        assert_eq!(c.decide(ms(t0, 3) + SETTLE), Decision::Data(1));
    }

    #[test]
    fn other_peers_never_count_as_data() {
        let t0 = Instant::now();
        let mut c = Classifier::new(CLIENT);
        assert!(!c.arrived(1, OTHER, t0));
        c.client_synced(t0);
        assert_eq!(c.held().count(), 0);
        assert_eq!(c.decide(t0 + GRACE), Decision::Missing);
    }

    #[test]
    fn a_stray_silent_connection_loses_to_the_newer_data_connection() {
        let t0 = Instant::now();
        let mut c = Classifier::new(CLIENT);
        c.arrived(1, CLIENT, ms(t0, 1)); // stray: silent, never speaks
        c.client_synced(ms(t0, 41));
        // The data connection is seen only after the sync was (it was
        // still on its way from the accept queue): the stray must not win
        // in between.
        assert_eq!(c.decide(ms(t0, 45)), Decision::Wait(ms(t0, 41) + SETTLE));
        c.arrived(2, CLIENT, ms(t0, 50));
        assert_eq!(c.decide(ms(t0, 50) + SETTLE), Decision::Data(2));
        assert_eq!(c.held().collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn no_data_connection_after_the_sync_is_missing_after_the_grace() {
        let t0 = Instant::now();
        let mut c = Classifier::new(CLIENT);
        c.arrived(1, CLIENT, t0);
        c.spoke(1); // closed or spoke: a hostile or queued client
        c.client_synced(ms(t0, 5));
        assert_eq!(c.decide(ms(t0, 6)), Decision::Wait(ms(t0, 5) + GRACE));
        assert_eq!(c.decide(ms(t0, 5) + GRACE), Decision::Missing);
        // The first sync counts; a repeated report does not extend it.
        c.client_synced(ms(t0, 900));
        assert_eq!(c.decide(ms(t0, 5) + GRACE), Decision::Missing);
    }

    #[test]
    fn without_a_sync_nothing_is_decided() {
        let t0 = Instant::now();
        let mut c = Classifier::new(CLIENT);
        for id in 0..10 {
            c.arrived(id, CLIENT, ms(t0, id));
        }
        assert!(matches!(c.decide(ms(t0, 100_000)), Decision::Wait(_)));
    }
}
