//! The qperf client side of one test: control connection, REQ, data
//! connection, synchronisation, timed data path and STAT exchange.

use crate::proto::{Conf, Req, Stat};

/// Where the server is.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub listen_port: u16,
    pub wait_secs: u32,
    pub debug: bool,
}

/// What one test produced.
#[derive(Clone, Debug)]
pub enum Outcome {
    Stats { local: Stat, remote: Stat },
    Conf { local: Conf, remote: Conf },
    Quit,
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// Printed on stdout as is, exit 1 (e.g. "127.0.0.1: failed to connect").
    Local(String),
    /// The server's text; printed on stderr as "server: TEXT", exit 1.
    Remote(String),
}

/// Runs one test: control connection, REQ (`remote`, req_index set), port,
/// data connection, sync, the timed data path with the `local` parameters,
/// STAT, sync after test.
pub fn run_test(target: &Target, local: &Req, remote: &Req) -> Result<Outcome, ClientError> {
    let _ = (target, local, remote);
    Err(ClientError::Local("not implemented".into()))
}
