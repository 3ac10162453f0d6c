//! Unit and property tests of the response parser.

use super::*;
use proptest::prelude::*;

/// Feeds `chunks` in order; returns every completion with its body, and the
/// first error.
fn run(collect: bool, chunks: &[&[u8]]) -> (Vec<(Complete, Vec<u8>)>, Option<HttpError>) {
    let mut p = ResponseParser::new(collect);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut data = *chunk;
        loop {
            match p.feed(data) {
                Err(e) => return (out, Some(e)),
                Ok(pr) => {
                    data = &data[pr.consumed..];
                    match pr.complete {
                        Some(c) => out.push((c, p.body().to_vec())),
                        None => {
                            assert!(data.is_empty(), "stopped early without completion");
                            break;
                        }
                    }
                    if data.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    if let Some(c) = p.eof() {
        out.push((c, p.body().to_vec()));
    }
    (out, None)
}

fn ok(status: u16, keep_alive: bool) -> Complete {
    Complete { status, keep_alive }
}

#[test]
fn content_length_keep_alive() {
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n";
    let (out, err) = run(true, &[r]);
    assert_eq!(err, None);
    assert_eq!(
        out,
        vec![(ok(200, true), b"hello".to_vec()), (ok(404, true), vec![])]
    );
}

#[test]
fn chunked_with_extension_and_trailer() {
    let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\n wo\r\n0\r\nX-T: 1\r\n\r\n";
    let (out, err) = run(true, &[r]);
    assert_eq!(err, None);
    assert_eq!(out, vec![(ok(200, true), b"hello wo".to_vec())]);
}

#[test]
fn http10_until_eof_is_not_keep_alive() {
    let r = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close\n";
    let (out, err) = run(true, &[r]);
    assert_eq!(err, None);
    assert_eq!(out, vec![(ok(200, false), b"body until close\n".to_vec())]);
}

#[test]
fn keep_alive_rules() {
    let (out, _) = run(false, &[b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"]);
    assert_eq!(out[0].0, ok(200, false));
    let (out, _) = run(
        false,
        &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"],
    );
    assert_eq!(out[0].0, ok(200, true));
    let (out, _) = run(
        false,
        &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"],
    );
    assert_eq!(out[0].0, ok(200, false));
    let (out, _) = run(
        false,
        &[b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n"],
    );
    assert_eq!(out[0].0, ok(200, false));
}

#[test]
fn bodiless_statuses_and_interim() {
    let r = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 NM\r\nContent-Length: 10\r\n\r\n";
    let (out, err) = run(false, &[r]);
    assert_eq!(err, None);
    let st: Vec<u16> = out.iter().map(|(c, _)| c.status).collect();
    assert_eq!(st, vec![100, 204, 304]);
}

#[test]
fn head_response_with_length_waits_for_body() {
    let mut p = ResponseParser::new(false);
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 615\r\n\r\n";
    let pr = p.feed(r).unwrap();
    assert_eq!(
        pr,
        Progress {
            consumed: r.len(),
            complete: None
        }
    );
}

#[test]
fn errors() {
    let dup = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
    assert_eq!(
        run(false, &[dup]).1,
        Some(HttpError::UnexpectedContentLength)
    );
    let both = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        run(false, &[both]).1,
        Some(HttpError::UnexpectedContentLength)
    );
    let badlen = b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n";
    assert_eq!(
        run(false, &[badlen]).1,
        Some(HttpError::InvalidContentLength)
    );
    let badchunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_eq!(run(false, &[badchunk]).1, Some(HttpError::InvalidChunk));
    let nocrlf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n";
    assert_eq!(run(false, &[nocrlf]).1, Some(HttpError::InvalidChunk));
    assert_eq!(run(false, &[b"garbage\r\n\r\n"]).1, Some(HttpError::Syntax));
    let after_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\nX";
    let (out, err) = run(false, &[after_close]);
    assert_eq!(out.len(), 1);
    assert_eq!(err, Some(HttpError::Closed));
}

#[test]
fn header_limit() {
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    while big.len() <= MAX_HEADER_BYTES {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    assert_eq!(run(false, &[&big]).1, Some(HttpError::HeaderTooLarge));
    // Incomplete and already too large.
    let (a, b) = big.split_at(100);
    assert_eq!(run(false, &[a, b]).1, Some(HttpError::HeaderTooLarge));
}

#[test]
fn many_headers_are_fine() {
    let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..200 {
        r.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    r.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
    let mut p = ResponseParser::new(true);
    let pr = p.feed(&r).unwrap();
    assert_eq!(pr.complete, Some(ok(200, true)));
    assert_eq!(p.headers().count(), 201);
    assert_eq!(p.body(), b"ok");
}

#[test]
fn collected_headers_in_order() {
    let r = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: two\r\nContent-Length: 0\r\n\r\n";
    let (first, rest) = r.split_at(20);
    let mut p = ResponseParser::new(true);
    assert_eq!(p.feed(first).unwrap().complete, None);
    assert_eq!(
        p.feed(rest).unwrap(),
        Progress {
            consumed: rest.len(),
            complete: Some(ok(200, true))
        }
    );
    let h: Vec<(Vec<u8>, Vec<u8>)> = p.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
    assert_eq!(h[0], (b"A".to_vec(), b"1".to_vec()));
    assert_eq!(h[1], (b"B".to_vec(), b"two".to_vec()));
    assert_eq!(h.len(), 3);
}

/// A stream of assorted valid responses.
fn stream() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    s.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nServer: x\r\n\r\nhello world");
    s.extend_from_slice(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nA;e\r\n0123456789\r\n0\r\nT: 1\r\n\r\n");
    s.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    s.extend_from_slice(b"HTTP/1.0 200 OK\r\nX: y\r\n\r\nuntil eof body");
    s
}

proptest! {
    #[test]
    fn arbitrary_splits_give_identical_events(cuts in proptest::collection::vec(0usize..200, 0..12)) {
        let s = stream();
        let whole = run(true, &[&s]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (s.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&s[last..c]);
            last = c;
        }
        chunks.push(&s[last..]);
        let split = run(true, &chunks);
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(whole.0.len(), 5);
        prop_assert_eq!(whole.1, None);
    }

    #[test]
    fn never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..600), split in 0usize..600) {
        let split = split.min(data.len());
        let _ = run(true, &[&data[..split], &data[split..]]);
    }

    #[test]
    fn byte_at_a_time_equals_whole(prefix in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut s = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        s.extend_from_slice(format!("{:x}\r\n", prefix.len().max(1)).as_bytes());
        let mut body = prefix.clone();
        if body.is_empty() { body.push(b'z'); }
        s.extend_from_slice(&body);
        s.extend_from_slice(b"\r\n0\r\n\r\n");
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        let (out, err) = run(true, &bytes);
        prop_assert_eq!(err, None);
        prop_assert_eq!(out, vec![(ok(200, true), body)]);
    }
}

/// One generated response: (status, body, framing) → its bytes.
fn encode(status: u16, body: &[u8], chunks: Option<&[usize]>) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} X\r\nServer: t\r\n").into_bytes();
    match chunks {
        None => {
            s.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            s.extend_from_slice(body);
        }
        Some(sizes) => {
            s.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let mut rest = body;
            for &n in sizes {
                let n = n.min(rest.len());
                if n == 0 {
                    continue;
                }
                s.extend_from_slice(format!("{n:X}\r\n").as_bytes());
                s.extend_from_slice(&rest[..n]);
                s.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            if !rest.is_empty() {
                s.extend_from_slice(format!("{:x}\r\n", rest.len()).as_bytes());
                s.extend_from_slice(rest);
                s.extend_from_slice(b"\r\n");
            }
            s.extend_from_slice(b"0\r\n\r\n");
        }
    }
    s
}

proptest! {
    #[test]
    fn generated_streams_roundtrip_under_any_split(
        responses in proptest::collection::vec(
            (200u16..600, proptest::collection::vec(any::<u8>(), 0..300),
             proptest::option::of(proptest::collection::vec(1usize..64, 0..8))),
            1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut stream = Vec::new();
        let mut expect = Vec::new();
        for (status, body, chunks) in &responses {
            // 204/304 never have a body (tested separately).
            let status = if matches!(status, 204 | 304) { 200 } else { *status };
            stream.extend_from_slice(&encode(status, body, chunks.as_deref()));
            expect.push((ok(status, true), body.clone()));
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&stream[last..c]);
            last = c;
        }
        chunks.push(&stream[last..]);
        let (out, err) = run(true, &chunks);
        prop_assert_eq!(err, None);
        prop_assert_eq!(out, expect);
    }
}

#[test]
fn head_response_ends_after_headers() {
    let mut p = ResponseParser::new(false);
    p.set_head(true);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 615\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let first = p.feed(resp).expect("parses");
    let done = first.complete.expect("complete without body");
    assert!(done.keep_alive);
    let second = p.feed(&resp[first.consumed..]).expect("parses");
    assert_eq!(second.consumed, resp.len() - first.consumed);
    assert!(second.complete.is_some());
    p.set_head(false);
    let third = p
        .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        .expect("parses");
    assert!(third.complete.is_none(), "GET waits for its body");
}
