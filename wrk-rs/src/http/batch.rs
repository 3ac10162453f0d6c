//! Which requests of a pre-serialized batch are `HEAD` requests.
//!
//! A response to `HEAD` has no body whatever its headers announce; wrk's
//! parser does not know the request method and stalls on such responses
//! (spec §8 item 7). We scan each batch's bytes once (static request: once
//! per run; script `request()`: once per batch, no allocation) and tell the
//! parser per response.

/// Bit `i` set: request `i` of the batch is `HEAD`. Requests beyond the 64th
/// take bit 63's value (pipelines that deep mixing methods are not sensible).
pub type HeadMask = u64;

/// Whether response `index` (0-based within its batch) answers a `HEAD`.
pub fn is_head(mask: HeadMask, index: u64) -> bool {
    mask >> index.min(63) & 1 == 1
}

/// Scans the requests in `batch` (each: header block, then a body of its
/// `Content-Length`). Stops at anything it cannot frame.
pub fn head_mask(batch: &[u8]) -> HeadMask {
    if !contains(batch, b"HEAD ") {
        return 0;
    }
    let mut mask = 0;
    let mut pos = 0;
    let mut index = 0u32;
    while pos < batch.len() {
        let rest = &batch[pos..];
        if rest.starts_with(b"HEAD ") {
            mask |= 1 << index.min(63);
            if index >= 63 {
                // Every further request shares bit 63.
                return mask;
            }
        } else if index >= 63 {
            return mask;
        }
        let Some(end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let body = content_length(&rest[..end]).unwrap_or(0);
        pos = pos.saturating_add(end + 4).saturating_add(body);
        index += 1;
    }
    mask
}

/// Value of the first `Content-Length` header of a header block.
fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        if !name.trim_ascii().eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok()
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_requests() {
        assert_eq!(head_mask(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        assert_eq!(head_mask(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
        assert!(is_head(1, 0));
        assert!(!is_head(1, 1));
    }

    #[test]
    fn pipelined_mixed_with_bodies() {
        let b = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nHEAD HEAD \
                  HEAD /x HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\ncontent-length:  0\r\n\r\n";
        assert_eq!(head_mask(b), 0b1010);
    }

    #[test]
    fn deep_pipelines_share_the_last_bit() {
        let one = b"HEAD / HTTP/1.1\r\n\r\n";
        let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 100).collect();
        let m = head_mask(&batch);
        assert_eq!(m, u64::MAX);
        assert!(is_head(m, 99));
    }

    #[test]
    fn garbage_never_panics() {
        for b in [
            &b"HEAD "[..],
            b"HEAD \r\n\r\n",
            b"\r\n\r\nHEAD ",
            b"x: 1\r\nContent-Length: 99999999999999999999\r\n\r\nHEAD ",
        ] {
            let _ = head_mask(b);
        }
    }
}
