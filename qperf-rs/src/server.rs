//! The qperf server: accepts one control connection at a time, runs the
//! requested test and answers with STAT/CONF (spec §4.4–4.13, §9.2/9.3).

/// Server settings from the command line.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `-lp` listen port (stock default 19765).
    pub listen_port: u16,
    /// `-lt` local timeout in seconds.
    pub loc_timeout_secs: u32,
    /// `-D` debug trace.
    pub debug: bool,
}

/// Runs the server until a `quit` request; returns the process exit code.
pub fn serve(cfg: &ServerConfig) -> i32 {
    let _ = cfg;
    1
}
