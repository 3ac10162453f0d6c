//! Sans-IO HTTP/1.1 response parser (wrk.md §5.3).
//!
//! Bytes in, "response complete" out; no sockets, no clocks. The framing rules
//! follow wrk's http_parser 2.7.1 in response mode: chunked, else
//! Content-Length, else no body for 1xx/204/304, else read until EOF. Unlike
//! wrk's parser, which never knows the request method and so waits for the
//! body a HEAD response announces (wrk's HEAD stall, golden/36, spec §8 item
//! 7), the caller says per response whether it answers a `HEAD` request
//! ([`ResponseParser::set_head`]); such a response ends after its headers.
//!
//! Header blocks are parsed with `httparse`, straight from the input when the
//! whole block is in one chunk (the common case, no copy) and from an
//! internal reusable buffer otherwise. Nothing is allocated per response once
//! the buffers have grown, unless bodies are collected for a script.

use std::ops::Range;

/// http_parser's limit on the size of a header block (status line included).
pub const MAX_HEADER_BYTES: usize = 80 * 1024;

/// Why a response stream is broken (wrk counts each as a `read` error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// Malformed status line or header.
    Syntax,
    /// Header block larger than [`MAX_HEADER_BYTES`].
    HeaderTooLarge,
    /// Content-Length twice, or together with chunked.
    UnexpectedContentLength,
    /// Content-Length that is not a number.
    InvalidContentLength,
    /// Bad chunk size line or missing CRLF after chunk data.
    InvalidChunk,
    /// Bytes after a response that ended the connection.
    Closed,
}

/// One finished response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete {
    pub status: u16,
    /// The connection may carry the next response (http_should_keep_alive).
    pub keep_alive: bool,
}

/// What one [`ResponseParser::feed`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Set when a response completed at `consumed`.
    pub complete: Option<Complete>,
}

/// Chunked-body decoder states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits; `digits` seen so far.
    Size { value: u64, digits: u32 },
    /// Chunk extension or trailing blanks, up to CR (chunk size kept).
    Ext(u64),
    /// CR of the size line seen, LF expected (chunk size kept).
    SizeLf(u64),
    /// Chunk data bytes left.
    Data(u64),
    /// CR after chunk data expected.
    DataCr,
    /// LF after chunk data expected.
    DataLf,
    /// Start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line, up to CR.
    TrailerLine,
    /// CR of a trailer line seen, LF expected.
    TrailerLf,
    /// CR of the final empty line seen, LF expected.
    EndLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a status line and headers.
    Head,
    /// Content-Length body bytes left.
    Fixed(u64),
    /// Chunked body.
    Chunked(Chunk),
    /// Body ends at EOF.
    UntilEof,
    /// A response ended the connection; any further byte is an error.
    Dead,
}

/// Facts of a parsed header block.
#[derive(Debug, Clone, Copy, Default)]
struct Head {
    status: u16,
    minor: u8,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

/// Incremental response parser for one connection.
#[derive(Debug)]
pub struct ResponseParser {
    state: State,
    collect: bool,
    /// Partial header block carried between chunks.
    partial: Vec<u8>,
    /// Collected header block of the current response (collect mode).
    head_store: Vec<u8>,
    /// (name, value) ranges into `head_store`.
    spans: Vec<(Range<usize>, Range<usize>)>,
    /// Collected (de-chunked) body (collect mode).
    body: Vec<u8>,
    status: u16,
    keep_alive: bool,
    /// The response being parsed answers a `HEAD` request: no body.
    head_request: bool,
}

impl ResponseParser {
    /// A parser; with `collect` it keeps headers and body of each response
    /// for the script's `response()` hook.
    pub fn new(collect: bool) -> ResponseParser {
        ResponseParser {
            state: State::Head,
            collect,
            partial: Vec::new(),
            head_store: Vec::new(),
            spans: Vec::new(),
            body: Vec::new(),
            status: 0,
            keep_alive: false,
            head_request: false,
        }
    }

    /// Tells whether the response in progress (or the next one) answers a
    /// `HEAD` request; read when its header block completes.
    pub fn set_head(&mut self, head: bool) {
        self.head_request = head;
    }

    /// Back to "expecting a new response" (fresh connection).
    pub fn reset(&mut self) {
        self.state = State::Head;
        self.partial.clear();
    }

    /// Consumes bytes until one response completes or `data` is used up.
    /// Call again with the rest after a completion.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, HttpError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Dead => {
                    if data.len() > pos {
                        return Err(HttpError::Closed);
                    }
                    return Ok(Progress {
                        consumed: pos,
                        complete: None,
                    });
                }
                State::Head => {
                    if pos == data.len() {
                        return Ok(Progress {
                            consumed: pos,
                            complete: None,
                        });
                    }
                    match self.parse_head(&data[pos..])? {
                        None => {
                            return Ok(Progress {
                                consumed: data.len(),
                                complete: None,
                            })
                        }
                        Some(n) => {
                            pos += n;
                            if let Some(c) = self.body_done_if_empty() {
                                return Ok(Progress {
                                    consumed: pos,
                                    complete: Some(c),
                                });
                            }
                        }
                    }
                }
                State::Fixed(left) => {
                    let take = left.min((data.len() - pos) as u64) as usize;
                    self.keep_body(&data[pos..pos + take]);
                    pos += take;
                    let left = left - take as u64;
                    if left == 0 {
                        return Ok(Progress {
                            consumed: pos,
                            complete: Some(self.finish()),
                        });
                    }
                    self.state = State::Fixed(left);
                    return Ok(Progress {
                        consumed: pos,
                        complete: None,
                    });
                }
                State::UntilEof => {
                    self.keep_body(&data[pos..]);
                    return Ok(Progress {
                        consumed: data.len(),
                        complete: None,
                    });
                }
                State::Chunked(c) => {
                    let (n, next) = self.chunk_step(c, &data[pos..])?;
                    pos += n;
                    match next {
                        None => {
                            return Ok(Progress {
                                consumed: pos,
                                complete: Some(self.finish()),
                            })
                        }
                        Some(c) => {
                            self.state = State::Chunked(c);
                            if pos == data.len() {
                                return Ok(Progress {
                                    consumed: pos,
                                    complete: None,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    /// The peer closed the connection: completes an EOF-delimited body.
    pub fn eof(&mut self) -> Option<Complete> {
        if self.state == State::UntilEof {
            Some(self.finish())
        } else {
            None
        }
    }

    /// Headers of the last completed response, in arrival order (collect mode).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans
            .iter()
            .map(|(n, v)| (&self.head_store[n.clone()], &self.head_store[v.clone()]))
    }

    /// Body of the last completed response (collect mode).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    fn keep_body(&mut self, bytes: &[u8]) {
        if self.collect {
            self.body.extend_from_slice(bytes);
        }
    }

    /// Ends the current response and picks the next state.
    fn finish(&mut self) -> Complete {
        self.state = if self.keep_alive {
            State::Head
        } else {
            State::Dead
        };
        Complete {
            status: self.status,
            keep_alive: self.keep_alive,
        }
    }

    /// After the head: a response without body completes at once.
    fn body_done_if_empty(&mut self) -> Option<Complete> {
        match self.state {
            State::Fixed(0) => Some(self.finish()),
            State::Head => Some(self.finish()),
            _ => None,
        }
    }

    /// Parses a header block from `data` (plus any carried partial block).
    /// `Ok(None)`: incomplete, everything consumed. `Ok(Some(n))`: head done
    /// after `n` bytes of `data`, state set for the body.
    fn parse_head(&mut self, data: &[u8]) -> Result<Option<usize>, HttpError> {
        if self.partial.is_empty() {
            match parse_block(data)? {
                Parsed::Partial => {
                    if data.len() > MAX_HEADER_BYTES {
                        return Err(HttpError::HeaderTooLarge);
                    }
                    self.partial.extend_from_slice(data);
                    Ok(None)
                }
                Parsed::Done(n, head) => {
                    if self.collect {
                        self.store_head(&data[..n]);
                    }
                    self.start_body(head)?;
                    Ok(Some(n))
                }
            }
        } else {
            let old = self.partial.len();
            self.partial.extend_from_slice(data);
            match parse_block(&self.partial)? {
                Parsed::Partial => {
                    if self.partial.len() > MAX_HEADER_BYTES {
                        return Err(HttpError::HeaderTooLarge);
                    }
                    Ok(None)
                }
                Parsed::Done(n, head) => {
                    let mut block = std::mem::take(&mut self.partial);
                    if self.collect {
                        self.store_head(&block[..n]);
                    }
                    block.clear();
                    self.partial = block;
                    self.start_body(head)?;
                    Ok(Some(n - old))
                }
            }
        }
    }

    /// Copies a complete header block and records its header spans.
    fn store_head(&mut self, block: &[u8]) {
        self.head_store.clear();
        self.head_store.extend_from_slice(block);
        self.spans.clear();
        with_headers(&self.head_store, |hdrs| {
            let base = self.head_store.as_ptr() as usize;
            for h in hdrs {
                let n = h.name.as_ptr() as usize - base;
                let v = h.value.as_ptr() as usize - base;
                self.spans.push((n..n + h.name.len(), v..v + h.value.len()));
            }
        });
    }

    /// Sets framing state from the parsed head (http_parser's rules).
    fn start_body(&mut self, head: Head) -> Result<(), HttpError> {
        if head.chunked && head.content_length.is_some() {
            return Err(HttpError::UnexpectedContentLength);
        }
        self.status = head.status;
        self.body.clear();
        let no_body =
            self.head_request || head.status / 100 == 1 || head.status == 204 || head.status == 304;
        let (state, needs_eof) = if no_body {
            (State::Head, false)
        } else if head.chunked {
            (
                State::Chunked(Chunk::Size {
                    value: 0,
                    digits: 0,
                }),
                false,
            )
        } else if let Some(len) = head.content_length {
            (State::Fixed(len), false)
        } else {
            (State::UntilEof, true)
        };
        let persistent = if head.minor >= 1 {
            !head.close
        } else {
            head.keep_alive
        };
        self.keep_alive = persistent && !needs_eof;
        self.state = state;
        Ok(())
    }

    /// Advances the chunk decoder over `data`. Returns bytes consumed and
    /// the next state (`None` = body complete).
    fn chunk_step(
        &mut self,
        mut c: Chunk,
        data: &[u8],
    ) -> Result<(usize, Option<Chunk>), HttpError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            c = match c {
                Chunk::Data(left) => {
                    let take = left.min((data.len() - i) as u64) as usize;
                    self.keep_body(&data[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    c = if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(left)
                    };
                    continue;
                }
                Chunk::Size { value, digits } => match hex(b) {
                    Some(d) => {
                        if value > (u64::MAX >> 4) {
                            return Err(HttpError::InvalidChunk);
                        }
                        Chunk::Size {
                            value: value << 4 | d,
                            digits: digits + 1,
                        }
                    }
                    None if digits == 0 => return Err(HttpError::InvalidChunk),
                    None => match b {
                        b'\r' => Chunk::SizeLf(value),
                        b';' | b' ' => Chunk::Ext(value),
                        _ => return Err(HttpError::InvalidChunk),
                    },
                },
                Chunk::Ext(size) => {
                    if b == b'\r' {
                        Chunk::SizeLf(size)
                    } else if b == b'\n' {
                        return Err(HttpError::InvalidChunk);
                    } else {
                        Chunk::Ext(size)
                    }
                }
                Chunk::SizeLf(size) => {
                    chunk_byte(b, b'\n')?;
                    if size == 0 {
                        Chunk::TrailerStart
                    } else {
                        Chunk::Data(size)
                    }
                }
                Chunk::DataCr => {
                    chunk_byte(b, b'\r')?;
                    Chunk::DataLf
                }
                Chunk::DataLf => {
                    chunk_byte(b, b'\n')?;
                    Chunk::Size {
                        value: 0,
                        digits: 0,
                    }
                }
                Chunk::TrailerStart => {
                    if b == b'\r' {
                        Chunk::EndLf
                    } else if b == b'\n' {
                        return Err(HttpError::InvalidChunk);
                    } else {
                        Chunk::TrailerLine
                    }
                }
                Chunk::TrailerLine => {
                    if b == b'\r' {
                        Chunk::TrailerLf
                    } else {
                        Chunk::TrailerLine
                    }
                }
                Chunk::TrailerLf => {
                    chunk_byte(b, b'\n')?;
                    Chunk::TrailerStart
                }
                Chunk::EndLf => {
                    chunk_byte(b, b'\n')?;
                    return Ok((i + 1, None));
                }
            };
            i += 1;
        }
        Ok((i, Some(c)))
    }
}

/// The CR or LF that chunked framing requires at this byte.
fn chunk_byte(b: u8, want: u8) -> Result<(), HttpError> {
    if b == want {
        Ok(())
    } else {
        Err(HttpError::InvalidChunk)
    }
}

/// Result of parsing a header block.
enum Parsed {
    Partial,
    Done(usize, Head),
}

/// Runs `f` on the headers of a complete block (a stack array for the usual
/// case, a heap array only for blocks with very many headers).
fn with_headers<R>(block: &[u8], f: impl FnOnce(&[httparse::Header<'_>]) -> R) -> Option<R> {
    let mut small = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut small);
    match resp.parse(block) {
        Ok(httparse::Status::Complete(_)) => return Some(f(resp.headers)),
        Err(httparse::Error::TooManyHeaders) => {}
        _ => return None,
    }
    let mut big = vec![httparse::EMPTY_HEADER; MAX_HEADER_BYTES / 4 + 1];
    let mut resp = httparse::Response::new(&mut big);
    match resp.parse(block) {
        Ok(httparse::Status::Complete(_)) => Some(f(resp.headers)),
        _ => None,
    }
}

/// Parses status line and headers; extracts the framing facts.
fn parse_block(data: &[u8]) -> Result<Parsed, HttpError> {
    let mut small = [httparse::EMPTY_HEADER; 64];
    match parse_with(&mut small, data) {
        Ok(parsed) => parsed,
        Err(httparse::Error::TooManyHeaders) => {
            let mut big = vec![httparse::EMPTY_HEADER; MAX_HEADER_BYTES / 4 + 1];
            parse_with(&mut big, data).unwrap_or(Err(HttpError::HeaderTooLarge))
        }
        Err(_) => Err(HttpError::Syntax),
    }
}

/// One parse attempt with room for `headers.len()` headers; httparse's own
/// error is handed back so the caller can retry with more room.
fn parse_with<'b>(
    headers: &mut [httparse::Header<'b>],
    data: &'b [u8],
) -> Result<Result<Parsed, HttpError>, httparse::Error> {
    let mut resp = httparse::Response::new(headers);
    Ok(match resp.parse(data)? {
        httparse::Status::Partial => Ok(Parsed::Partial),
        httparse::Status::Complete(n) if n > MAX_HEADER_BYTES => {
            // Still decode the head first: its errors come before the size.
            head_facts(&resp).and(Err(HttpError::HeaderTooLarge))
        }
        httparse::Status::Complete(n) => head_facts(&resp).map(|head| Parsed::Done(n, head)),
    })
}

/// Status, version and the framing headers of a parsed response.
fn head_facts(resp: &httparse::Response<'_, '_>) -> Result<Head, HttpError> {
    let mut head = Head {
        status: resp.code.unwrap_or(0),
        minor: resp.version.unwrap_or(1),
        ..Head::default()
    };
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            if head.content_length.is_some() {
                return Err(HttpError::UnexpectedContentLength);
            }
            head.content_length = Some(parse_length(h.value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.chunked = trim(h.value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    head.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    head.keep_alive = true;
                }
            }
        }
    }
    Ok(head)
}

/// Content-Length value: decimal digits, optional surrounding blanks.
fn parse_length(v: &[u8]) -> Result<u64, HttpError> {
    let v = trim(v);
    if v.is_empty() {
        return Err(HttpError::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return Err(HttpError::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(HttpError::InvalidContentLength)?;
    }
    Ok(n)
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

pub mod batch;

#[cfg(test)]
mod tests;
