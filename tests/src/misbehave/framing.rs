//! Request framing for the raw servers: find where one request ends in a
//! byte buffer (headers plus `Content-Length` body), so pipelined and
//! keep-alive requests are each answered once. Pure functions plus a small
//! reader that feeds them.

use std::io::{self, Read};

/// Largest request head accepted (a test server, not a fortress).
const MAX_HEAD: usize = 64 * 1024;

/// Length of the first complete request in `buf`, `Ok(None)` when more
/// bytes are needed. Chunked request bodies are not supported (error).
pub fn request_len(buf: &[u8]) -> io::Result<Option<usize>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        return Ok(None);
    };
    let head = &buf[..head_end];
    let mut body = 0usize;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = String::from_utf8_lossy(line);
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body = value
                .trim()
                .parse()
                .map_err(|_| invalid("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("chunked request bodies are not supported"));
        }
    }
    let total = head_end + 4 + body;
    Ok((buf.len() >= total).then_some(total))
}

/// Buffers a connection's bytes and hands out one request at a time.
#[derive(Debug, Default)]
pub struct RequestReader {
    buf: Vec<u8>,
}

impl RequestReader {
    /// Read until one whole request is buffered and consume it. `Ok(false)`
    /// on a clean EOF before a request started or completed.
    pub fn next_request(&mut self, s: &mut impl Read) -> io::Result<bool> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(n) = request_len(&self.buf)? {
                self.buf.drain(..n);
                return Ok(true);
            }
            let k = s.read(&mut chunk)?;
            if k == 0 {
                return Ok(false);
            }
            self.buf.extend_from_slice(&chunk[..k]);
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        assert_eq!(
            request_len(b"GET / HTTP/1.1\r\nHost: a\r\n").expect("ok"),
            None
        );
        let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(request_len(get).expect("ok"), Some(get.len()));
        let post = b"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET";
        assert_eq!(request_len(post).expect("ok"), Some(post.len() - 3));
        assert_eq!(request_len(&post[..post.len() - 5]).expect("ok"), None);
        assert!(request_len(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(request_len(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(request_len(&vec![b'a'; MAX_HEAD + 1]).is_err());
    }

    #[test]
    fn reader_splits_pipelined_requests() {
        let raw = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n".to_vec();
        let mut src = io::Cursor::new(raw);
        let mut r = RequestReader::default();
        assert!(r.next_request(&mut src).expect("1"));
        assert!(r.next_request(&mut src).expect("2"));
        assert!(!r.next_request(&mut src).expect("eof"));
    }
}
