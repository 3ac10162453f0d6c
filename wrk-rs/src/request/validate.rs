//! wrk's request validation: the first request string is run through a
//! strict HTTP/1.x request parser; the number of complete requests is the
//! pipeline depth, and a failure prints `<description> at <line>:<col>`
//! (position of the first unparsed byte) and exits 1. Descriptions are
//! http_parser's. Chunked request bodies are not decoded (the headers of
//! such a request validate; its chunks would then fail as the next request).

/// Methods http_parser 2.7 knows.
const METHODS: &[&str] = &[
    "DELETE",
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "COPY",
    "LOCK",
    "MKCOL",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "SEARCH",
    "UNLOCK",
    "BIND",
    "REBIND",
    "UNBIND",
    "ACL",
    "REPORT",
    "MKACTIVITY",
    "CHECKOUT",
    "MERGE",
    "M-SEARCH",
    "NOTIFY",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PATCH",
    "PURGE",
    "MKCALENDAR",
    "LINK",
    "UNLINK",
];

const INVALID_METHOD: &str = "invalid HTTP method";
const INVALID_URL: &str = "invalid URL";
const INVALID_CONSTANT: &str = "invalid constant string";
const INVALID_VERSION: &str = "invalid HTTP version";
const LF_EXPECTED: &str = "LF character expected";
const INVALID_HEADER: &str = "invalid character in header";
const INVALID_CL: &str = "invalid character in content-length header";
const UNEXPECTED_CL: &str = "unexpected content-length header";
const STRICT: &str = "strict mode assertion failed";

fn token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn header_value_char(c: u8) -> bool {
    c == b'\t' || (c > 31 && c != 127)
}

/// Number of complete requests in `req`, or wrk's error line (without `\n`).
pub fn validate(req: &[u8]) -> Result<usize, String> {
    let mut p = Parser { b: req, i: 0 };
    let mut count = 0;
    loop {
        match p.request() {
            Ok(true) => count += 1,
            Ok(false) => break,
            Err(desc) => return Err(at(req, p.i, desc)),
        }
    }
    if count == 0 {
        return Err(at(req, req.len(), "incomplete request"));
    }
    Ok(count)
}

fn at(req: &[u8], parsed: usize, desc: &str) -> String {
    let (mut line, mut col) = (1, 1);
    for &c in &req[..parsed.min(req.len())] {
        col += 1;
        if c == b'\n' {
            col = 1;
            line += 1;
        }
    }
    format!("{desc} at {line}:{col}")
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

/// Ok(false): ran out of input (incomplete, not an error).
type Step = Result<bool, &'static str>;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Parses one request; Ok(true) when it is complete.
    fn request(&mut self) -> Step {
        while matches!(self.peek(), Some(b'\r' | b'\n')) {
            self.i += 1;
        }
        if self.peek().is_none() {
            return Ok(false);
        }
        if !self.method()? || !self.url()? || !self.version()? {
            return Ok(false);
        }
        let Some(body) = self.headers()? else {
            return Ok(false);
        };
        let remaining = (self.b.len() - self.i) as u64;
        if remaining < body {
            self.i = self.b.len();
            return Ok(false);
        }
        self.i += body as usize;
        Ok(true)
    }

    fn method(&mut self) -> Step {
        let start = self.i;
        loop {
            let Some(c) = self.peek() else {
                return Ok(false);
            };
            let sofar = &self.b[start..self.i];
            if c == b' ' && self.i > start {
                if METHODS.iter().any(|m| m.as_bytes() == sofar) {
                    self.i += 1;
                    return Ok(true);
                }
                return Err(INVALID_METHOD);
            }
            let n = sofar.len();
            let ok = METHODS
                .iter()
                .any(|m| m.len() > n && m.as_bytes()[..n] == *sofar && m.as_bytes()[n] == c);
            if !ok {
                return Err(INVALID_METHOD);
            }
            self.i += 1;
        }
    }

    fn url(&mut self) -> Step {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        let Some(first) = self.peek() else {
            return Ok(false);
        };
        if !(first == b'/' || first == b'*' || first.is_ascii_alphabetic()) {
            return Err(INVALID_URL);
        }
        loop {
            match self.peek() {
                None => return Ok(false),
                Some(b' ') => {
                    self.i += 1;
                    return Ok(true);
                }
                Some(c) if crate::url::url_char(c) || c == b'?' || c == b'#' => self.i += 1,
                Some(_) => return Err(INVALID_URL),
            }
        }
    }

    fn expect(&mut self, c: u8, err: &'static str) -> Step {
        match self.peek() {
            None => Ok(false),
            Some(x) if x == c => {
                self.i += 1;
                Ok(true)
            }
            Some(_) => Err(err),
        }
    }

    fn digits(&mut self) -> Step {
        let start = self.i;
        loop {
            match self.peek() {
                None => return Ok(false),
                Some(c) if c.is_ascii_digit() => self.i += 1,
                Some(_) if self.i > start => return Ok(true),
                Some(_) => return Err(INVALID_VERSION),
            }
        }
    }

    fn version(&mut self) -> Step {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        for &c in b"HTTP/" {
            if !self.expect(c, INVALID_CONSTANT)? {
                return Ok(false);
            }
        }
        if !self.digits()? || !self.expect(b'.', INVALID_VERSION)? || !self.digits()? {
            return Ok(false);
        }
        self.line_end(INVALID_VERSION)
    }

    /// CR LF (strict) or a bare LF.
    fn line_end(&mut self, err: &'static str) -> Step {
        match self.peek() {
            None => Ok(false),
            Some(b'\n') => {
                self.i += 1;
                Ok(true)
            }
            Some(b'\r') => {
                self.i += 1;
                self.expect(b'\n', LF_EXPECTED)
            }
            Some(_) => Err(err),
        }
    }

    /// Header lines up to the blank line; Some(body length) when complete.
    fn headers(&mut self) -> Result<Option<u64>, &'static str> {
        let mut content_length: Option<u64> = None;
        loop {
            match self.peek() {
                None => return Ok(None),
                Some(b'\r') => {
                    self.i += 1;
                    return match self.peek() {
                        None => Ok(None),
                        Some(b'\n') => {
                            self.i += 1;
                            Ok(Some(content_length.unwrap_or(0)))
                        }
                        Some(_) => Err(STRICT),
                    };
                }
                Some(b'\n') => {
                    self.i += 1;
                    return Ok(Some(content_length.unwrap_or(0)));
                }
                Some(_) => {}
            }
            let name_start = self.i;
            loop {
                match self.peek() {
                    None => return Ok(None),
                    Some(b':') if self.i > name_start => break,
                    Some(c) if token(c) => self.i += 1,
                    Some(_) => return Err(INVALID_HEADER),
                }
            }
            let is_cl = self.b[name_start..self.i].eq_ignore_ascii_case(b"content-length");
            self.i += 1;
            if is_cl && content_length.is_some() {
                return Err(UNEXPECTED_CL);
            }
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.i += 1;
            }
            let mut cl: Option<u64> = None;
            loop {
                match self.peek() {
                    None => return Ok(None),
                    Some(b'\r' | b'\n') => break,
                    Some(c) if is_cl => {
                        if c.is_ascii_digit() {
                            let v = cl.unwrap_or(0);
                            cl = Some(
                                v.checked_mul(10)
                                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                                    .ok_or(INVALID_CL)?,
                            );
                        } else if c != b' ' {
                            return Err(INVALID_CL);
                        }
                        self.i += 1;
                    }
                    Some(c) if header_value_char(c) => self.i += 1,
                    Some(_) => return Err(INVALID_HEADER),
                }
            }
            if is_cl {
                content_length = Some(cl.ok_or(INVALID_CL)?);
            }
            if !self.line_end(INVALID_HEADER)? {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

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
                "unexpected content-length header at 3:16",
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
}

#[cfg(test)]
mod props {
    use super::validate;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes: no panic; the error position lies inside the input.
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Err(e) = validate(&b) {
                let pos = e.rsplit(' ').next().unwrap_or("");
                let line: usize = pos.split(':').next().and_then(|l| l.parse().ok()).unwrap_or(0);
                prop_assert!(line >= 1 && line <= b.len() + 1, "{}", e);
            }
        }

        /// N well-formed requests validate as N.
        #[test]
        fn counts_pipelines(n in 1usize..6, path in "/[a-z0-9/]{0,10}", body in "[a-z]{0,5}") {
            let one = format!("POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            prop_assert_eq!(validate(one.repeat(n).as_bytes()), Ok(n));
        }
    }
}
