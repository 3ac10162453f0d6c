//! The pre-serialized request wrk sends without a script (spec §4.5) and
//! wrk's validation of the first request string (spec §5.2, §5.4).
//!
//! `-H` rules: split at the first `:`; one space after the colon is dropped;
//! a later header with the same (case-sensitive) name replaces the earlier
//! one. `Host: <host[:port]>` is added unless a `-H` gives a Host header.
//! wrk emits headers in Lua hash order; we emit the `-H` headers in
//! command-line order, then Host (the order golden 46's error position shows).
//!
//! Deliberate differences from wrk (spec §8 item 9): wrk silently drops
//! `-H 'X-A:v'` (no space after the colon) and sends two Host headers for
//! `-H 'host: x'`. We send `X-A: v`, warn about a `-H` without any colon
//! (wrk drops it silently too), and treat a Host header in any letter case
//! as the Host header (it is renamed `Host`, also for the Lua `wrk.headers`).

mod validate;

pub use validate::validate;

/// Parses one `-H` value; None when it has no `:` at all.
pub fn parse_header(h: &str) -> Option<(String, String)> {
    let colon = h.find(':')?;
    let rest = &h[colon + 1..];
    let value = rest.strip_prefix(' ').unwrap_or(rest);
    let name = &h[..colon];
    let name = if name.eq_ignore_ascii_case("host") {
        "Host"
    } else {
        name
    };
    Some((name.to_string(), value.to_string()))
}

/// The `-H` headers as the `wrk.headers` table holds them; `warn` gets one
/// line per ignored `-H` (no colon).
pub fn headers_warn(raw: &[String], warn: &mut dyn FnMut(String)) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for h in raw {
        let Some((name, value)) = parse_header(h) else {
            warn(format!("wrk: ignoring header without ':': {h}"));
            continue;
        };
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => out.push((name, value)),
        }
    }
    out
}

/// [`headers_warn`] discarding the warnings.
pub fn headers(raw: &[String]) -> Vec<(String, String)> {
    headers_warn(raw, &mut |_| {})
}

/// `GET <path> HTTP/1.1`, the headers, the default Host, blank line.
///
/// A `Content-Length` header (exactly that spelling, a Lua table key) is
/// left out: wrk's `wrk.format` sets it from the body, and without a
/// script there is none.
pub fn build(url: &crate::url::Url, headers: &[(String, String)]) -> Vec<u8> {
    let mut s = format!("GET {} HTTP/1.1\r\n", url.path);
    for (n, v) in headers.iter().filter(|(n, _)| n != "Content-Length") {
        s.push_str(n);
        s.push_str(": ");
        s.push_str(v);
        s.push_str("\r\n");
    }
    if !headers.iter().any(|(n, _)| n == "Host") {
        s.push_str("Host: ");
        s.push_str(&url.host_header());
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> crate::url::Url {
        crate::url::parse(u).expect("valid url")
    }

    #[test]
    fn header_rules() {
        assert_eq!(parse_header("X-A: v"), Some(("X-A".into(), "v".into())));
        assert_eq!(parse_header("X-A:  v"), Some(("X-A".into(), " v".into())));
        assert_eq!(parse_header("X-A:v"), Some(("X-A".into(), "v".into())));
        assert_eq!(
            parse_header("X-Empty:"),
            Some(("X-Empty".into(), "".into()))
        );
        assert_eq!(parse_header("no colon"), None);
        assert_eq!(parse_header("hOsT: x"), Some(("Host".into(), "x".into())));
        assert_eq!(
            parse_header("X-Empty: "),
            Some(("X-Empty".into(), "".into()))
        );
        assert_eq!(
            parse_header("Bad Name: v"),
            Some(("Bad Name".into(), "v".into()))
        );
        let raw: Vec<String> = ["A: 1", "B: 2", "A: 3", "a: 4", "C:5", "junk"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut warnings = Vec::new();
        assert_eq!(
            headers_warn(&raw, &mut |w| warnings.push(w)),
            vec![
                ("A".into(), "3".into()),
                ("B".into(), "2".into()),
                ("a".into(), "4".into()),
                ("C".into(), "5".into())
            ]
        );
        assert_eq!(warnings, vec!["wrk: ignoring header without ':': junk"]);
    }

    #[test]
    fn default_request() {
        assert_eq!(
            build(&url("http://127.0.0.1/"), &[]),
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        );
        assert_eq!(
            build(&url("http://[::1]:8089/a?b#c"), &[("X".into(), "y".into())]),
            b"GET /a?b HTTP/1.1\r\nX: y\r\nHost: [::1]:8089\r\n\r\n"
        );
        assert_eq!(
            build(&url("http://h/"), &[("Host".into(), "other".into())]),
            b"GET / HTTP/1.1\r\nHost: other\r\n\r\n"
        );
        let one = build(&url("http://h/"), &headers(&["host: x".to_string()]));
        assert_eq!(one, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    /// wrk 4.1.0 runs `-H 'Content-Length: 5'` (and `: x`) without a body as
    /// a plain GET (wrk.format drops the header); another spelling is kept
    /// and then fails validation like stock's (`incomplete request at 5:1`).
    #[test]
    fn content_length_without_body_is_dropped() {
        let h = headers(&["Content-Length: 5".to_string()]);
        let req = build(&url("http://h/"), &h);
        assert_eq!(req, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(validate(&req), Ok(1));
        let h = headers(&["content-length: 5".to_string()]);
        let req = build(&url("http://h/"), &h);
        assert_eq!(validate(&req), Err("incomplete request at 5:1".into()));
    }

    #[test]
    fn golden_46_position() {
        let h = headers(&["Bad Name: v".to_string()]);
        let req = build(&url("http://127.0.0.1/"), &h);
        assert_eq!(
            validate(&req),
            Err("invalid character in header at 2:4".into())
        );
    }
}
