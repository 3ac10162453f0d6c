//! `--errors detail`: every socket error counted by wrk's class *and* its
//! cause (an errno name or one of our named causes), so a `Socket errors`
//! line can tell port exhaustion from resets or backlog drops.
//!
//! What each of stock wrk 4.1.0's classes counts (wrk.c, confirmed against
//! the source and spec §2.6), and the causes we report under it:
//!
//! | class | stock counts | our causes |
//! |---|---|---|
//! | `connect` | `socket()`/`connect()` failing synchronously (anything but `EINPROGRESS`: `EMFILE`, `EADDRNOTAVAIL`, `ENETUNREACH`, …) or the event registration failing — the slot is then dead for the run; a failed TLS handshake (then reconnect) | the errno; `TLS` |
//! | `read` | a failing `read()`/TLS read (`ECONNRESET`, and `ECONNREFUSED` when an asynchronous connect failed, since wrk never checks `SO_ERROR`); a response the HTTP parser rejects (also bytes after a `Connection: close` response); **every** EOF, also after an EOF-delimited body | the errno; `TLS`; `HTTP_PARSE`; `EOF` |
//! | `write` | a failing `write()` other than `EAGAIN` (`EPIPE`, `ECONNRESET`, `ECONNREFUSED` after a refused asynchronous connect) | the errno; `TLS` |
//! | `timeout` | a batch whose response completed later than `--timeout` (counted when it arrives; nothing is aborted) | `LATE_RESPONSE`; `NO_RESPONSE` for our request timeout (a batch still unanswered after `--timeout` + 100 ms, then reconnected) |
//!
//! Non-2xx/3xx responses (`status > 399`) are not socket errors and keep
//! their own line.

/// wrk's four socket-error classes (the `Socket errors` line, in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    Connect,
    Read,
    Write,
    Timeout,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 4] = [
        ErrorClass::Connect,
        ErrorClass::Read,
        ErrorClass::Write,
        ErrorClass::Timeout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::Read => "read",
            ErrorClass::Write => "write",
            ErrorClass::Timeout => "timeout",
        }
    }
}

/// Why one error was counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// A system call failed with this errno.
    Errno(i32),
    /// The peer closed the connection.
    Eof,
    /// The HTTP parser rejected the bytes (or bytes followed a closing response).
    HttpParse,
    /// TLS failure (handshake, record, session set-up) without an errno.
    Tls,
    /// A batch completed later than `--timeout`.
    LateResponse,
    /// Our request timeout: no complete response after `--timeout` + 100 ms.
    NoResponse,
    /// An I/O error that carried no errno.
    Other,
}

impl Cause {
    /// From an I/O error: its errno, or [`Cause::Other`].
    pub fn io(e: &std::io::Error) -> Cause {
        e.raw_os_error().map_or(Cause::Other, Cause::Errno)
    }

    /// The name printed and written to JSON (`ECONNRESET`, `EOF`, ...).
    pub fn name(self) -> String {
        match self {
            Cause::Errno(n) => errno_name(n),
            Cause::Eof => "EOF".into(),
            Cause::HttpParse => "HTTP_PARSE".into(),
            Cause::Tls => "TLS".into(),
            Cause::LateResponse => "LATE_RESPONSE".into(),
            Cause::NoResponse => "NO_RESPONSE".into(),
            Cause::Other => "OTHER".into(),
        }
    }
}

/// The symbolic name of an errno (`E<n>` for ones not in the table).
pub fn errno_name(n: i32) -> String {
    let name = match n {
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::EPIPE => "EPIPE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETDOWN => "ENETDOWN",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EAGAIN => "EAGAIN",
        libc::EINVAL => "EINVAL",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ENOTCONN => "ENOTCONN",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPROTO => "EPROTO",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        _ => return format!("E{n}"),
    };
    name.to_string()
}

/// Counts per (class, cause); few distinct keys, so a small vector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    entries: Vec<(ErrorClass, Cause, u64)>,
}

impl ErrorDetail {
    /// Counts `n` errors of `class` caused by `cause`.
    pub fn add(&mut self, class: ErrorClass, cause: Cause, n: u64) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.0 == class && e.1 == cause)
        {
            Some(e) => e.2 = e.2.wrapping_add(n),
            None => self.entries.push((class, cause, n)),
        }
    }

    /// Adds every count of `other` (threads merged at the end).
    pub fn merge(&mut self, other: &ErrorDetail) {
        for &(class, cause, n) in &other.entries {
            self.add(class, cause, n);
        }
    }

    /// Total of one class (equals wrk's counter for it).
    pub fn total(&self, class: ErrorClass) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.0 == class)
            .map(|e| e.2)
            .sum()
    }

    /// (cause, count) of one class, largest first, then by name.
    pub fn causes(&self, class: ErrorClass) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .entries
            .iter()
            .filter(|e| e.0 == class && e.2 != 0)
            .map(|e| (e.1.name(), e.2))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The lines printed below `Socket errors` (one per class with errors),
    /// e.g. `    read: ECONNRESET 1812, EOF 3`.
    pub fn lines(&self) -> Vec<String> {
        ErrorClass::ALL
            .iter()
            .filter_map(|&class| {
                let causes = self.causes(class);
                if causes.is_empty() {
                    return None;
                }
                let list: Vec<String> = causes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                Some(format!("    {}: {}", class.name(), list.join(", ")))
            })
            .collect()
    }
}

/// Inserts `lines` after the `  Socket errors:` line of a rendered report
/// (nothing when the report has no such line: then there were no errors).
pub fn insert_below_socket_errors(report: &[u8], lines: &[String]) -> Vec<u8> {
    const MARK: &[u8] = b"  Socket errors:";
    let mut out = Vec::with_capacity(report.len() + 64 * lines.len());
    let mut rest = report;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        out.extend_from_slice(line);
        if line.starts_with(MARK) {
            for l in lines {
                out.extend_from_slice(l.as_bytes());
                out.push(b'\n');
            }
        }
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sort_and_render() {
        let mut d = ErrorDetail::default();
        d.add(ErrorClass::Read, Cause::Eof, 3);
        d.add(ErrorClass::Read, Cause::Errno(libc::ECONNRESET), 1800);
        let mut other = ErrorDetail::default();
        other.add(ErrorClass::Read, Cause::Errno(libc::ECONNRESET), 12);
        other.add(ErrorClass::Connect, Cause::Errno(libc::EADDRNOTAVAIL), 102);
        other.add(ErrorClass::Timeout, Cause::LateResponse, 2);
        d.merge(&other);
        assert_eq!(d.total(ErrorClass::Read), 1815);
        assert_eq!(d.total(ErrorClass::Write), 0);
        assert_eq!(
            d.lines(),
            vec![
                "    connect: EADDRNOTAVAIL 102",
                "    read: ECONNRESET 1812, EOF 3",
                "    timeout: LATE_RESPONSE 2",
            ]
        );
        assert_eq!(errno_name(libc::EPIPE), "EPIPE");
        assert_eq!(errno_name(9999), "E9999");
    }

    #[test]
    fn lines_go_below_socket_errors_only() {
        let report = b"  1 requests in 1.00s, 1.00KB read\n  Socket errors: connect 0, read 1, write 0, timeout 0\nRequests/sec:      1.00\n";
        let out = insert_below_socket_errors(report, &["    read: EOF 1".to_string()]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  1 requests in 1.00s, 1.00KB read\n  Socket errors: connect 0, read 1, write 0, timeout 0\n    read: EOF 1\nRequests/sec:      1.00\n"
        );
        let clean = b"  1 requests in 1.00s, 1.00KB read\nRequests/sec:      1.00\n";
        assert_eq!(
            insert_below_socket_errors(clean, &["x".into()]),
            clean.to_vec()
        );
    }
}
