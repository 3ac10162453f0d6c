//! wrk's request validation (spec §2.1 step 6.6, §5.2, §5.4), for the
//! static request and for the first script `request()` result alike.
//!
//! wrk runs the string through http_parser in strict request mode, counts the
//! complete requests (the pipeline depth) and on failure prints
//! `<description> at <line>:<column>` (position of the first unparsed byte)
//! and exits 1. This is a compact re-implementation of the request grammar
//! that matters for that decision: known methods, URL characters,
//! `HTTP/x.y`, header tokens, Content-Length, chunked bodies (decoded, so a
//! chunked request without its chunks is incomplete) and keep-alive (bytes
//! after a `Connection: close` or HTTP/1.0 request are an error). Error texts
//! are http_parser's; the disputed cases are checked against wrk 4.1.0 in
//! the tests.

/// Methods http_parser 2.7 knows.
const METHODS: &[&[u8]] = &[
    b"DELETE",
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"CONNECT",
    b"OPTIONS",
    b"TRACE",
    b"COPY",
    b"LOCK",
    b"MKCOL",
    b"MOVE",
    b"PROPFIND",
    b"PROPPATCH",
    b"SEARCH",
    b"UNLOCK",
    b"BIND",
    b"REBIND",
    b"UNBIND",
    b"ACL",
    b"REPORT",
    b"MKACTIVITY",
    b"CHECKOUT",
    b"MERGE",
    b"M-SEARCH",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"PATCH",
    b"PURGE",
    b"MKCALENDAR",
    b"LINK",
    b"UNLINK",
];

const INVALID_METHOD: &str = "invalid HTTP method";
const INVALID_URL: &str = "invalid URL";
const INVALID_CONSTANT: &str = "invalid constant string";
const STRICT: &str = "strict mode assertion failed";
const INVALID_VERSION: &str = "invalid HTTP version";
const LF_EXPECTED: &str = "LF character expected";
const INVALID_HEADER: &str = "invalid character in header";
const INVALID_CL: &str = "invalid character in content-length header";
const UNEXPECTED_CL: &str = "unexpected content-length header";
const INVALID_CHUNK: &str = "invalid character in chunk size header";
const CLOSED: &str = "data received after completed connection: close message";
const OVERFLOW: &str = "too many header bytes seen; overflow detected";
const INCOMPLETE: &str = "incomplete request";

/// http_parser's header size limit.
const MAX_HEADER: usize = 80 * 1024;

/// Token characters (RFC 7230 tchar) as http_parser's strict table has them.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_header_char(c: u8) -> bool {
    c == b'\r' || c == b'\n' || c == b'\t' || (c > 31 && c != 127)
}

fn is_url_char(c: u8) -> bool {
    (0x21..0x7f).contains(&c)
}

fn is_server_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()%;&=+$,:@[]".contains(&c)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hdr {
    General,
    ContentLength,
    TransferEncoding,
    Connection,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Start,
    Method,
    SpacesBeforeUrl,
    Schema,
    SchemaSlash,
    SchemaSlash2,
    Server,
    Path,
    HttpStart,
    Http(u8),
    Major,
    Minor,
    LineAlmostDone,
    FieldStart,
    Field,
    ValueDiscardWs,
    ValueDiscardWsAlmostDone,
    ValueDiscardLws,
    Value,
    HeaderAlmostDone,
    ValueLws,
    HeadersAlmostDone,
    Body,
    ChunkSizeStart,
    ChunkSize,
    ChunkParams,
    ChunkSizeAlmostDone,
    ChunkData,
    ChunkDataAlmostDone,
    ChunkDataDone,
    Dead,
}

/// Per-message flags.
#[derive(Default)]
struct Msg {
    method: Vec<u8>,
    major: u32,
    minor: u32,
    field: Vec<u8>,
    value: Vec<u8>,
    content_length: Option<u64>,
    chunked: bool,
    trailing: bool,
    conn_close: bool,
    conn_keep_alive: bool,
    header_bytes: usize,
}

impl Msg {
    fn keep_alive(&self) -> bool {
        if self.major > 0 && self.minor > 0 {
            !self.conn_close
        } else {
            self.conn_keep_alive
        }
    }

    fn hdr(&self) -> Hdr {
        let f = self.field.to_ascii_lowercase();
        match f.as_slice() {
            b"content-length" => Hdr::ContentLength,
            b"transfer-encoding" => Hdr::TransferEncoding,
            b"connection" => Hdr::Connection,
            _ => Hdr::General,
        }
    }

    /// A header line ended: apply its meaning.
    fn commit(&mut self) {
        let v = String::from_utf8_lossy(&self.value)
            .trim()
            .to_ascii_lowercase();
        match self.hdr() {
            Hdr::TransferEncoding if v == "chunked" => self.chunked = true,
            Hdr::Connection if v == "close" => self.conn_close = true,
            Hdr::Connection if v == "keep-alive" => self.conn_keep_alive = true,
            _ => {}
        }
        self.field.clear();
        self.value.clear();
    }
}

/// Result: number of complete requests, or the text wrk prints.
pub fn validate(req: &[u8]) -> Result<usize, String> {
    let (count, parsed, err) = run(req);
    if parsed == req.len() && count > 0 && err.is_none() {
        return Ok(count);
    }
    let msg = err.unwrap_or(INCOMPLETE);
    let (mut line, mut col) = (1usize, 1usize);
    for &c in &req[..parsed.min(req.len())] {
        col += 1;
        if c == b'\n' {
            col = 1;
            line += 1;
        }
    }
    Err(format!("{msg} at {line}:{col}"))
}

/// Parses; returns (complete requests, bytes parsed, error).
fn run(data: &[u8]) -> (usize, usize, Option<&'static str>) {
    let mut st = St::Start;
    let mut m = Msg::default();
    let mut count = 0usize;
    let mut remaining: u64 = 0;
    let mut i = 0usize;
    macro_rules! fail {
        ($e:expr) => {
            return (count, i, Some($e))
        };
    }
    while i < data.len() {
        let c = data[i];
        if matches!(
            st,
            St::FieldStart
                | St::Field
                | St::ValueDiscardWs
                | St::ValueDiscardWsAlmostDone
                | St::ValueDiscardLws
                | St::Value
                | St::HeaderAlmostDone
                | St::ValueLws
        ) {
            m.header_bytes += 1;
            if m.header_bytes > MAX_HEADER {
                fail!(OVERFLOW);
            }
        }
        let mut reexec = false;
        match st {
            St::Start => {
                if c == b'\r' || c == b'\n' {
                } else {
                    m = Msg::default();
                    if !c.is_ascii_alphabetic() || !METHODS.iter().any(|x| x[0] == c) {
                        fail!(INVALID_METHOD);
                    }
                    m.method.push(c);
                    st = St::Method;
                }
            }
            St::Method => {
                if c == b' ' && METHODS.contains(&m.method.as_slice()) {
                    st = St::SpacesBeforeUrl;
                } else {
                    m.method.push(c);
                    if !METHODS.iter().any(|x| x.starts_with(&m.method)) {
                        fail!(INVALID_METHOD);
                    }
                }
            }
            St::SpacesBeforeUrl => {
                if c == b' ' {
                } else if m.method == b"CONNECT" {
                    if !is_server_char(c) {
                        fail!(INVALID_URL);
                    }
                    st = St::Server;
                } else if c == b'/' || c == b'*' {
                    st = St::Path;
                } else if c.is_ascii_alphabetic() {
                    st = St::Schema;
                } else {
                    fail!(INVALID_URL);
                }
            }
            St::Schema => {
                if c == b':' {
                    st = St::SchemaSlash;
                } else if !c.is_ascii_alphabetic() {
                    fail!(INVALID_URL);
                }
            }
            St::SchemaSlash | St::SchemaSlash2 => {
                if c != b'/' {
                    fail!(INVALID_URL);
                }
                st = if st == St::SchemaSlash {
                    St::SchemaSlash2
                } else {
                    St::Server
                };
            }
            St::Server | St::Path => match c {
                b' ' => st = St::HttpStart,
                b'\r' | b'\n' => {
                    m.major = 0;
                    m.minor = 9;
                    st = if c == b'\r' {
                        St::LineAlmostDone
                    } else {
                        St::FieldStart
                    };
                }
                _ => {
                    if st == St::Server && (c == b'/' || c == b'?' || c == b'#') {
                        st = St::Path;
                    } else if (st == St::Server && !is_server_char(c))
                        || (st == St::Path && !is_url_char(c))
                    {
                        fail!(INVALID_URL);
                    }
                }
            },
            St::HttpStart => match c {
                b'H' => st = St::Http(1),
                b' ' => {}
                _ => fail!(INVALID_CONSTANT),
            },
            St::Http(n) => {
                let want = b"HTTP/"[n as usize];
                if c != want {
                    fail!(STRICT);
                }
                st = if n == 4 { St::Major } else { St::Http(n + 1) };
                if n == 4 {
                    m.major = u32::MAX;
                }
            }
            St::Major => {
                // One digit, then '.', one digit, then CR or LF.
                if m.major == u32::MAX {
                    if !c.is_ascii_digit() {
                        fail!(INVALID_VERSION);
                    }
                    m.major = u32::from(c - b'0');
                } else if c == b'.' {
                    st = St::Minor;
                    m.minor = u32::MAX;
                } else {
                    fail!(INVALID_VERSION);
                }
            }
            St::Minor => {
                if m.minor == u32::MAX {
                    if !c.is_ascii_digit() {
                        fail!(INVALID_VERSION);
                    }
                    m.minor = u32::from(c - b'0');
                } else if c == b'\r' || c == b'\n' {
                    st = if c == b'\r' {
                        St::LineAlmostDone
                    } else {
                        St::FieldStart
                    };
                } else {
                    fail!(INVALID_VERSION);
                }
            }
            St::LineAlmostDone => {
                if c != b'\n' {
                    fail!(LF_EXPECTED);
                }
                st = St::FieldStart;
            }
            St::FieldStart => match c {
                b'\r' => st = St::HeadersAlmostDone,
                b'\n' => {
                    st = St::HeadersAlmostDone;
                    reexec = true;
                }
                _ => {
                    if !is_token(c) {
                        fail!(INVALID_HEADER);
                    }
                    m.field.clear();
                    m.field.push(c);
                    st = St::Field;
                }
            },
            St::Field => {
                if c == b':' {
                    st = St::ValueDiscardWs;
                } else if is_token(c) {
                    m.field.push(c);
                } else {
                    fail!(INVALID_HEADER);
                }
            }
            St::ValueDiscardWs => match c {
                b' ' | b'\t' => {}
                b'\r' => st = St::ValueDiscardWsAlmostDone,
                b'\n' => st = St::ValueDiscardLws,
                _ => {
                    if m.hdr() == Hdr::ContentLength {
                        if !c.is_ascii_digit() {
                            fail!(INVALID_CL);
                        }
                        if m.content_length.is_some() {
                            fail!(UNEXPECTED_CL);
                        }
                    }
                    st = St::Value;
                    reexec = true;
                }
            },
            St::ValueDiscardWsAlmostDone => {
                if c != b'\n' {
                    fail!(STRICT);
                }
                st = St::ValueDiscardLws;
            }
            St::ValueDiscardLws => {
                if c == b' ' || c == b'\t' {
                    st = St::ValueDiscardWs;
                } else {
                    m.commit();
                    st = St::FieldStart;
                    reexec = true;
                }
            }
            St::Value => match c {
                b'\r' => st = St::HeaderAlmostDone,
                b'\n' => {
                    st = St::HeaderAlmostDone;
                    reexec = true;
                }
                _ => {
                    if !is_header_char(c) {
                        fail!(INVALID_HEADER);
                    }
                    if m.hdr() == Hdr::ContentLength && c != b' ' {
                        if !c.is_ascii_digit() {
                            fail!(INVALID_CL);
                        }
                        let d = u64::from(c - b'0');
                        let t = m.content_length.unwrap_or(0);
                        if (u64::MAX - 10) / 10 < t {
                            fail!(INVALID_CL);
                        }
                        m.content_length = Some(t * 10 + d);
                    }
                    m.value.push(c);
                }
            },
            St::HeaderAlmostDone => {
                if c != b'\n' {
                    fail!(LF_EXPECTED);
                }
                st = St::ValueLws;
            }
            St::ValueLws => {
                if c == b' ' || c == b'\t' {
                    st = St::Value;
                } else {
                    m.commit();
                    st = St::FieldStart;
                    reexec = true;
                }
            }
            St::HeadersAlmostDone => {
                if c != b'\n' {
                    fail!(STRICT);
                }
                if m.trailing {
                    count += 1;
                    st = if m.keep_alive() { St::Start } else { St::Dead };
                } else {
                    if m.chunked && m.content_length.is_some() {
                        fail!(UNEXPECTED_CL);
                    }
                    if m.method == b"CONNECT" {
                        count += 1;
                        return (count, i + 1, None);
                    }
                    if m.chunked {
                        st = St::ChunkSizeStart;
                    } else {
                        match m.content_length {
                            Some(n) if n > 0 => {
                                remaining = n;
                                st = St::Body;
                            }
                            _ => {
                                count += 1;
                                st = if m.keep_alive() { St::Start } else { St::Dead };
                            }
                        }
                    }
                }
            }
            St::Body => {
                let take = (remaining.min((data.len() - i) as u64)) as usize;
                remaining -= take as u64;
                i += take;
                if remaining == 0 {
                    count += 1;
                    st = if m.keep_alive() { St::Start } else { St::Dead };
                }
                continue;
            }
            St::ChunkSizeStart => {
                if !c.is_ascii_hexdigit() {
                    fail!(INVALID_CHUNK);
                }
                remaining = u64::from((c as char).to_digit(16).unwrap_or(0));
                st = St::ChunkSize;
            }
            St::ChunkSize => {
                if c == b'\r' {
                    st = St::ChunkSizeAlmostDone;
                } else if let Some(d) = (c as char).to_digit(16) {
                    if remaining > (u64::MAX - 16) / 16 {
                        fail!("invalid content-length");
                    }
                    remaining = remaining * 16 + u64::from(d);
                } else if c == b';' || c == b' ' {
                    st = St::ChunkParams;
                } else {
                    fail!(INVALID_CHUNK);
                }
            }
            St::ChunkParams => {
                if c == b'\r' {
                    st = St::ChunkSizeAlmostDone;
                }
            }
            St::ChunkSizeAlmostDone => {
                if c != b'\n' {
                    fail!(STRICT);
                }
                if remaining == 0 {
                    m.trailing = true;
                    m.header_bytes = 0;
                    st = St::FieldStart;
                } else {
                    st = St::ChunkData;
                }
            }
            St::ChunkData => {
                let take = (remaining.min((data.len() - i) as u64)) as usize;
                remaining -= take as u64;
                i += take;
                if remaining == 0 {
                    st = St::ChunkDataAlmostDone;
                }
                continue;
            }
            St::ChunkDataAlmostDone => {
                if c != b'\r' {
                    fail!(STRICT);
                }
                st = St::ChunkDataDone;
            }
            St::ChunkDataDone => {
                if c != b'\n' {
                    fail!(STRICT);
                }
                st = St::ChunkSizeStart;
            }
            St::Dead => {
                if c != b'\r' && c != b'\n' {
                    fail!(CLOSED);
                }
            }
        }
        if !reexec {
            i += 1;
        }
    }
    (count, i, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request_is_one() {
        assert_eq!(
            validate(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
            Ok(1)
        );
    }

    #[test]
    fn pipelined_and_bodies() {
        let one = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        let mut three = Vec::new();
        for _ in 0..3 {
            three.extend_from_slice(one);
        }
        assert_eq!(validate(&three), Ok(3));
        let chunked =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(validate(chunked), Ok(1));
        // A trailing incomplete request is accepted.
        assert_eq!(validate(b"GET / HTTP/1.1\r\n\r\nGET / HT"), Ok(1));
    }

    #[test]
    fn golden_error_texts() {
        assert_eq!(
            validate(b"FETCH / HTTP/1.1\r\n\r\n").unwrap_err(),
            "invalid HTTP method at 1:1"
        );
        assert_eq!(
            validate(b"GARBAGE").unwrap_err(),
            "invalid HTTP method at 1:2"
        );
        assert_eq!(
            validate(b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n").unwrap_err(),
            "invalid character in header at 2:4"
        );
        assert_eq!(validate(b"").unwrap_err(), "incomplete request at 1:1");
        assert_eq!(
            validate(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap_err(),
            "incomplete request at 3:1"
        );
    }

    #[test]
    fn other_errors() {
        assert_eq!(
            validate(b"GET /a b HTTP/1.1\r\n\r\n").unwrap_err(),
            "invalid constant string at 1:8"
        );
        assert_eq!(
            validate(b"GET / HTTX/1.1\r\n\r\n").unwrap_err(),
            "strict mode assertion failed at 1:10"
        );
        assert_eq!(
            validate(b"GET / HTTP/x\r\n\r\n").unwrap_err(),
            "invalid HTTP version at 1:12"
        );
        assert_eq!(
            validate(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").unwrap_err(),
            "invalid character in content-length header at 2:17"
        );
        assert!(
            validate(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n")
                .unwrap_err()
                .starts_with("data received after completed connection: close message")
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = validate(&data);
        }

        #[test]
        fn counts_generated_requests(
            reqs in proptest::collection::vec(
                (0usize..4, "[a-z0-9/._-]{0,12}", proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,8}", "[ -~]{0,10}"), 0..4), proptest::option::of("[ -~]{0,20}")),
                1..5,
            )
        ) {
            let methods = ["GET", "POST", "PUT", "DELETE"];
            let mut all = Vec::new();
            for (m, path, headers, body) in &reqs {
                let mut r = format!("{} /{} HTTP/1.1\r\n", methods[*m], path);
                for (name, value) in headers {
                    let lname = name.to_ascii_lowercase();
                    if ["content-length", "transfer-encoding", "connection"].contains(&lname.as_str()) {
                        continue;
                    }
                    r.push_str(&format!("{name}: {}\r\n", value.trim()));
                }
                if let Some(b) = body {
                    r.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
                } else {
                    r.push_str("\r\n");
                }
                all.extend_from_slice(r.as_bytes());
            }
            proptest::prop_assert_eq!(validate(&all), Ok(reqs.len()));
        }
    }

    #[test]
    fn counts_requests() {
        assert_eq!(validate(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"), Ok(1));
        let three = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".repeat(3);
        assert_eq!(validate(&three), Ok(3));
        assert_eq!(
            validate(
                b"POST /e HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\nGET /x"
            ),
            Ok(2)
        );
        assert_eq!(validate(b"M-SEARCH * HTTP/1.1\r\n\r\n"), Ok(1));
    }

    #[test]
    fn error_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "incomplete request at 1:1"),
            (b"FOO / HTTP/1.1\r\n\r\n", "invalid HTTP method at 1:1"),
            (b"GARBAGE / HTTP/1.1\r\n\r\n", "invalid HTTP method at 1:2"),
            (b"GE / HTTP/1.1\r\n\r\n", "invalid HTTP method at 1:3"),
            (b"get / HTTP/1.1\r\n\r\n", "invalid HTTP method at 1:1"),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\n",
                "incomplete request at 3:1",
            ),
            (
                b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
                "invalid character in header at 2:4",
            ),
            (b"GET / XTTP/1.1\r\n\r\n", "invalid constant string at 1:7"),
            (b"GET / HTTP/x\r\n\r\n", "invalid HTTP version at 1:12"),
            (
                b"GET /a b HTTP/1.1\r\n\r\n",
                "invalid constant string at 1:8",
            ),
            (b"GET \x01 HTTP/1.1\r\n\r\n", "invalid URL at 1:5"),
            (b"GET / HTTP/1.1\rX", "LF character expected at 1:16"),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                "invalid character in content-length header at 2:18",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n",
                // wrk 4.1.0: 3:17 (the byte after the blank).
                "unexpected content-length header at 3:17",
            ),
        ];
        for (req, want) in cases {
            assert_eq!(
                validate(req),
                Err(want.to_string()),
                "{:?}",
                String::from_utf8_lossy(req)
            );
        }
    }

    /// Inputs on which the two validators this module replaces disagreed,
    /// with what wrk 4.1.0 prints for them as a `request()` result
    /// (`-t1 -c1 -d1s`, checked by hand against /usr/bin/wrk).
    #[test]
    fn as_stock_wrk_decides() {
        let cases: &[(&[u8], Result<usize, &str>)] = &[
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err("incomplete request at 4:1"),
            ),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                Ok(1),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                Ok(2),
            ),
            (
                b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                Err("data received after completed connection: close message at 4:1"),
            ),
            (
                b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                Err("data received after completed connection: close message at 3:1"),
            ),
            (b"GET / HTTP/12.1\r\n\r\n", Err("invalid HTTP version at 1:13")),
            (b"GET /\r\n\r\n", Ok(1)),
            (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", Ok(1)),
            (b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", Ok(1)),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err("unexpected content-length header at 4:2"),
            ),
            (
                b"GET / HTTP/1.1\r\nn:\rLeht oGn.hhT1",
                Err("strict mode assertion failed at 2:4"),
            ),
            (
                b"GET / HTTP/1.1\r\nLg.T:\n eP2THHe",
                Err("incomplete request at 3:9"),
            ),
            (
                b"GET / HTTP/1.1\r\nccLhoHPu:.3e/.n\n\tcL\rn EC\n\rgc nhxhct\tTT",
                Err("LF character expected at 3:5"),
            ),
            (
                b"GET / HTTP/1.1\r\ntoHPT:h/TL/\n\t0nxH\n1e3d",
                Err("incomplete request at 4:5"),
            ),
        ];
        for (req, want) in cases {
            let want = want.map_err(str::to_string);
            assert_eq!(validate(req), want, "{:?}", String::from_utf8_lossy(req));
        }
    }

    /// The rows of compat/spec/wrk.md §5.2 no other test pins, with what
    /// wrk 4.1.0 prints for them as a `request()` result (`-t1 -c1 -d1s`
    /// against a loopback listener, checked against /usr/bin/wrk).
    #[test]
    fn spec_table_rows_as_stock_wrk_decides() {
        let cases: &[(&[u8], Result<usize, &str>)] = &[
            (b"\r\n\r\n", Err("incomplete request at 3:1")),
            (
                b"CONNECT h:1 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                Err("incomplete request at 3:1"),
            ),
            (b"CONNECT h:1 HTTP/1.1\r\n\r\n", Ok(1)),
            (
                b"GET /\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                Err("data received after completed connection: close message at 3:1"),
            ),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Ok(1)),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
                Err("invalid character in chunk size header at 4:1"),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
                Err("strict mode assertion failed at 5:4"),
            ),
            (
                b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
                Err("invalid character in header at 2:5"),
            ),
            (b"GET / HTTP/1.1\r\nX: a\xc8b\r\n\r\n", Ok(1)),
            (b"GET /\x01 HTTP/1.1\r\n\r\n", Err("invalid URL at 1:6")),
            (b"GET /\x80 HTTP/1.1\r\n\r\n", Err("invalid URL at 1:6")),
        ];
        for (req, want) in cases {
            let want = want.map_err(str::to_string);
            assert_eq!(validate(req), want, "{:?}", String::from_utf8_lossy(req));
        }
    }
}
