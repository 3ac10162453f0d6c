//! The server side of rds_bw/rds_lat (spec §4.11): REQ checks, the RDS
//! set-up and data phase of [`crate::datapath::rds`], then STAT and the
//! sync after test.  Hardening as for the other socket tests: hostile
//! values refused, every receive bounded, a vanished client ends the test.

use std::time::Duration;

use super::session::Test;
use super::MAX_WAIT_SECS;
use crate::control::CtlError;
use crate::datapath::rds::{self, Kind};
use crate::datapath::{sock::Net, Pattern, Role};
use crate::proto::Req;

fn local(msg: impl Into<String>) -> CtlError {
    CtlError::Local(msg.into())
}

impl Test<'_> {
    /// Runs rds_bw or rds_lat for `req`.  Returns false (not `quit`).
    pub(super) fn rds_test(&mut self, req: &Req, name: &str) -> Result<bool, CtlError> {
        Self::validate(req, Net::Tcp)?;
        if req.time == 0 {
            // Datagrams have no end of stream: without a timer the test
            // would never end (stock runs forever).
            return Err(local("bad time: 0; RDS tests need a time limit"));
        }
        let setup = rds::Setup {
            kind: Kind::Rds,
            trace: self.trace.clone(),
            timeout: self.timeout,
            port: req.port,
            buf_size: req.sock_buf_size,
        };
        let ready = rds::server_setup(self.ctl, &setup)?;
        let test = rds::Test {
            pattern: Pattern::of(name),
            role: Role::Server,
            msg_size: req.msg_size as usize,
            time: req.time,
            access_recv: req.access_recv != 0,
            idle: Some(Duration::from_secs(u64::from(MAX_WAIT_SECS))),
        };
        let m = ready.run(self.ctl, &test, &self.trace)?;
        if m.idle {
            return Err(local("failed to receive data: client not responding"));
        }
        self.exchange_results([m.time_s, m.time_e], [m.s, m.r])?;
        drop(ready);
        Ok(false)
    }
}
