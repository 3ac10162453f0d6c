//! Target URL, split the way wrk's http_parser URL parser does (spec §1.7).
//!
//! A URL needs a scheme (letters only) and a host. The request target is the
//! path and query; no path means `/`. When there is no port the scheme is the
//! getaddrinfo service name.
//!
//! Two deliberate differences from wrk (spec §8 item 10): wrk drops a query
//! that has no path before it (`http://h:1?x=1` sends `GET /`) and sends the
//! `#fragment` on the wire; we send `GET /?x=1` and never send the fragment.

/// The parts of the target URL wrk uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// Scheme as typed (`http`, `https`, `HTTP`, `ws`...).
    pub scheme: String,
    /// Host without brackets (`::1`).
    pub host: String,
    /// Port string as typed, if any.
    pub port: Option<String>,
    /// Request target: path + query (`/` when the URL has no path).
    pub path: String,
}

impl Url {
    /// TLS iff the scheme starts with `https` (case-sensitive, like wrk).
    pub fn tls(&self) -> bool {
        self.scheme.starts_with("https")
    }

    /// getaddrinfo service: the port, else the scheme.
    pub fn service(&self) -> &str {
        self.port.as_deref().unwrap_or(&self.scheme)
    }

    /// Default `Host` header value: host (bracketed if it has a `:`) + `:port`.
    pub fn host_header(&self) -> String {
        let mut h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if let Some(p) = &self.port {
            h.push(':');
            h.push_str(p);
        }
        h
    }
}

/// http_parser's strict URL characters (wrk builds it strict): printable
/// ASCII except `#` and `?`, which switch state.
pub(crate) fn url_char(c: u8) -> bool {
    (0x21..=0x7e).contains(&c) && c != b'#' && c != b'?'
}

fn userinfo_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()%;:&=+$,".contains(&c)
}

/// Strict host characters: no `_`.
fn host_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

/// Splits `url` or returns None where wrk prints `invalid URL`.
pub fn parse(url: &str) -> Option<Url> {
    let b = url.as_bytes();
    // Scheme: letters then "://".
    let scheme_len = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if scheme_len == 0 || !b[scheme_len..].starts_with(b"://") {
        return None;
    }
    let server_start = scheme_len + 3;
    // Server part: up to the first '/' or '?'; only userinfo chars, brackets
    // and at most one '@'.
    let mut i = server_start;
    let mut ats = 0;
    while i < b.len() && b[i] != b'/' && b[i] != b'?' {
        let c = b[i];
        if c == b'@' {
            ats += 1;
            if ats > 1 {
                return None;
            }
        } else if !(userinfo_char(c) || c == b'[' || c == b']') {
            return None;
        }
        i += 1;
    }
    let server = &url[server_start..i];
    if server.is_empty() {
        return None;
    }
    // Rest: path (url chars, then '?' query, '#' fragment), validated.
    let path_start = i;
    if b[i..]
        .iter()
        .any(|&c| !(url_char(c) || c == b'?' || c == b'#'))
    {
        return None;
    }
    let target_end = url[path_start..]
        .find('#')
        .map_or(url.len(), |f| path_start + f);
    let target = &url[path_start..target_end];
    let (host, port) = parse_host(server)?;
    if let Some(p) = &port {
        let n: u64 = p.parse().ok()?;
        if n > 65535 {
            return None;
        }
    }
    Some(Url {
        scheme: url[..scheme_len].to_string(),
        host,
        port,
        path: if target.starts_with('/') {
            target.to_string()
        } else {
            format!("/{target}")
        },
    })
}

/// Host part: optional `userinfo@`, then a name or `[v6]`, then `:digits`.
fn parse_host(server: &str) -> Option<(String, Option<String>)> {
    let hostport = match server.rfind('@') {
        Some(at) => {
            if !server[..at].bytes().all(userinfo_char) || at == 0 {
                return None;
            }
            &server[at + 1..]
        }
        None => server,
    };
    let (host, rest) = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find(']')?;
        let inner = &v6[..end];
        let (addr, zone) = match inner.find('%') {
            Some(z) => (&inner[..z], Some(&inner[z + 1..])),
            None => (inner, None),
        };
        let ok_addr = !addr.is_empty()
            && addr
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        let ok_zone = match zone {
            None => true,
            Some(z) => {
                !z.is_empty()
                    && z.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"%.-_~".contains(&c))
            }
        };
        if !ok_addr || !ok_zone {
            return None;
        }
        (inner.to_string(), &v6[end + 1..])
    } else {
        let end = hostport.find(':').unwrap_or(hostport.len());
        let name = &hostport[..end];
        if name.is_empty() || !name.bytes().all(host_char) {
            return None;
        }
        (name.to_string(), &hostport[end..])
    };
    if rest.is_empty() {
        return Some((host, None));
    }
    let port = rest.strip_prefix(':')?;
    if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((host, Some(port.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(u: &str) -> Url {
        parse(u).unwrap_or_else(|| panic!("{u} should parse"))
    }

    #[test]
    fn accepted() {
        let u = ok("http://127.0.0.1/");
        assert_eq!(
            (
                u.scheme.as_str(),
                u.host.as_str(),
                u.port.as_deref(),
                u.path.as_str()
            ),
            ("http", "127.0.0.1", None, "/")
        );
        assert_eq!(u.service(), "http");
        assert_eq!(u.host_header(), "127.0.0.1");
        let u = ok("http://[::1]:8089/small.txt");
        assert_eq!((u.host.as_str(), u.port.as_deref()), ("::1", Some("8089")));
        assert_eq!(u.host_header(), "[::1]:8089");
        let u = ok("https://user:pw@example.com:8443/a?b=1#frag");
        assert_eq!(u.host, "example.com");
        assert_eq!(u.path, "/a?b=1");
        assert!(u.tls());
        assert!(!ok("HTTPS://h/").tls());
        assert_eq!(ok("http://h:1?x=1").path, "/?x=1");
        assert_eq!(ok("http://h:1?x=1#f").path, "/?x=1");
        assert_eq!(ok("http://h/#f?x").path, "/");
        assert_eq!(ok("foo://127.0.0.1/").service(), "foo");
        assert_eq!(ok("http://h:0/").port.as_deref(), Some("0"));
        assert_eq!(ok("http://h").path, "/");
    }

    #[test]
    fn rejected() {
        for u in [
            "127.0.0.1:8089",
            "127.0.0.1:80/",
            "/path",
            "http://",
            "http:///x",
            "http://h:/",
            "http://h:99999/",
            "http://h/a b",
            "http://a@b@c/",
            "h2c://h/",
            "",
            "http://[::1/",
            "http://[]/",
            "http://my_host/",
            "http://h/\u{e9}",
        ] {
            assert_eq!(parse(u), None, "{u}");
        }
    }
}

#[cfg(test)]
mod props {
    use super::parse;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in "([a-zA-Z]{0,5}://)?[ -~\u{e9}]{0,30}") {
            if let Some(u) = parse(&s) {
                prop_assert!(u.path.starts_with('/'));
                prop_assert!(!u.host.is_empty());
                prop_assert!(!u.path.contains('#'));
            }
        }
    }
}
