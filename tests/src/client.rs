//! A minimal blocking HTTP/1.1 client for checking the kit's servers (and
//! for tests that want to poke a server without a load generator).
//!
//! It understands `Content-Length` and EOF-delimited bodies; chunked bodies
//! are reported as an error. Not a general client: just enough to assert.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// e.g. `HTTP/1.1`.
    pub version: String,
    /// e.g. 200.
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connect with a 10 s read/write timeout.
    pub fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn {
            reader: BufReader::new(s),
        })
    }

    /// The underlying stream (e.g. to change timeouts).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Send a GET for `path` and read the response.
    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())?;
        self.read_response()
    }

    /// Send a POST with `body` and read the response.
    pub fn post(&mut self, path: &str, body: &[u8]) -> io::Result<Response> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        self.send(&req)?;
        self.read_response()
    }

    /// Write raw bytes.
    pub fn send(&mut self, raw: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(raw)
    }

    /// Read one response (status line, headers, body).
    pub fn read_response(&mut self) -> io::Result<Response> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("bad header {line:?}")))?;
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        let mut r = Response {
            version,
            status,
            headers,
            body: Vec::new(),
        };
        if r.header("transfer-encoding").is_some() {
            return Err(bad("chunked bodies are not supported".into()));
        }
        match r.header("content-length") {
            Some(len) => {
                let len: usize = len.parse().map_err(|_| bad(format!("bad length {len}")))?;
                r.body.resize(len, 0);
                self.reader.read_exact(&mut r.body)?;
            }
            None if status == 204 || status == 304 => {}
            None => {
                self.reader.read_to_end(&mut r.body)?;
            }
        }
        Ok(r)
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// One GET on a fresh connection.
pub fn get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    Conn::connect(addr)?.get(path)
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
