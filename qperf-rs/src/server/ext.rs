//! The server side of a socket test with qperf-rs extensions (see
//! [`crate::ext::wire`]): HELLO, the client's ask, one data endpoint per
//! stream, the test on every connection at once, STAT, then our report.
//! Only reached when the REQ carried the ask, which no stock client sends.

use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::session::{local_error as local, Test};
use super::MAX_WAIT_SECS;
use crate::control::CtlError;
use crate::datapath::{self, sock, sock::Net, Spec};
use crate::ext::{self, wire as xw};
use crate::proto::Req;
use crate::{dbg_line, wire};

impl Test<'_> {
    pub(super) fn socket_test_ext(
        &mut self,
        req: &Req,
        net: Net,
        name: &str,
    ) -> Result<bool, CtlError> {
        Self::validate(req, net)?;
        let hello = xw::Hello {
            caps: xw::ALL,
            max_streams: ext::MAX_STREAMS,
        };
        dbg_line!(self.trace, "sending qperf-rs hello");
        self.ctl
            .send("qperf-rs hello", &xw::encode_hello(&hello), self.timeout)?;
        let b = self
            .ctl
            .recv("qperf-rs request", xw::ASK_LEN, self.timeout)?;
        let ask = xw::decode_ask(&b).map_err(|e| local(e.to_string()))?;
        let bw = name == "tcp_bw" || name == "udp_bw";
        let n = if ask.flags & xw::STREAMS != 0 {
            ask.streams
        } else {
            1
        };
        if n == 0 || n > ext::MAX_STREAMS || (n > 1 && !bw) {
            return Err(local(format!(
                "bad stream count: {n}; must be 1 to {} (more than 1 only for tcp_bw and udp_bw)",
                ext::MAX_STREAMS
            )));
        }
        let endpoints = self.endpoints(req, net, n)?;
        // One port per stream (a stream kind's connections share its listener).
        let ports: Vec<u8> = (0..n as usize)
            .flat_map(|i| {
                let e = &endpoints[i.min(endpoints.len() - 1)];
                wire::encode_port(u32::from(sock::local_port(e)))
            })
            .collect();
        dbg_line!(self.trace, "sending {} port(s)", n);
        self.ctl.send("port", &ports, self.timeout)?;
        let mut data = Vec::with_capacity(n as usize);
        if net.is_stream() {
            let ep = &endpoints[0];
            let deadline = self.accept_deadline();
            for _ in 0..n {
                let s = self.accept(ep, net, deadline)?;
                sock::set_buf_size(&s, req.sock_buf_size).map_err(local)?;
                data.push(s);
            }
            drop(endpoints);
            dbg_line!(self.trace, "accepted {} {} connection(s)", n, net.name());
        } else {
            data = endpoints;
        }
        for s in &data {
            sock::set_idle_timeout(s, Duration::from_secs(u64::from(MAX_WAIT_SECS)));
        }
        self.ctl.sync_before_traced(&self.trace, self.timeout)?;
        let spec = Spec::server(net, name, req, self.ctl.stream().as_raw_fd());
        let fds: Vec<_> = data.iter().map(|d| d.as_raw_fd()).collect();
        let cg = ext::cgroup::Window::start(ask.flags & xw::CGROUP_CPU != 0);
        let runs = datapath::run_streams(&spec, &fds, ask.flags & xw::PERCENTILES != 0);
        let cgroup = cg.stop();
        let (m, x) = ext::combine(runs, cgroup);
        if m.idle {
            return Err(local("failed to receive data: client not responding"));
        }
        self.report = Some(xw::encode_report(&x));
        let r = self.exchange_results([m.time_s, m.time_e], [m.s, m.r]);
        drop(data);
        r.map(|()| false)
    }

    /// The data endpoints: one listener for stream kinds (with room for
    /// every connection), one UDP socket per stream (the first on the
    /// REQ's port, like stock's).
    fn endpoints(&mut self, req: &Req, net: Net, n: u32) -> Result<Vec<Socket>, CtlError> {
        let first =
            sock::server_endpoint(net, req.port as u16, req.sock_buf_size).map_err(local)?;
        if net.is_stream() {
            if n > 1 {
                first
                    .listen(n as i32)
                    .map_err(|_| local(format!("unable to make {} socket", net.name())))?;
            }
            return Ok(vec![first]);
        }
        let mut v = vec![first];
        for _ in 1..n {
            v.push(sock::server_endpoint(net, 0, req.sock_buf_size).map_err(local)?);
        }
        Ok(v)
    }
}
