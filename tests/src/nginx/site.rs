//! The static site every [`super::Nginx`] serves, shaped like the servers the
//! wrk golden files were captured against: `/` is a 615-byte HTML page (the
//! size of Debian's default page), `/index.html` the same, `/small.txt` 5
//! bytes, `/big.bin` 2,000,000 bytes; any other path is a 404.

use std::io;
use std::path::Path;

/// Size of `/` and `/index.html`.
pub const INDEX_LEN: usize = 615;
/// Content of `/small.txt`.
pub const SMALL_TXT: &[u8] = b"small";
/// Size of `/big.bin`.
pub const BIG_LEN: usize = 2_000_000;

/// Our own page, padded to exactly [`INDEX_LEN`] bytes.
pub fn index_html() -> Vec<u8> {
    let head = "<!DOCTYPE html>\n<html>\n<head>\n<title>testkit nginx</title>\n</head>\n<body>\n\
                <h1>testkit nginx</h1>\n<p>Static page served by the system nginx for \
                netbench tests. Its size matches the default Debian page so byte \
                counts line up with the golden captures.</p>\n";
    let tail = "</body>\n</html>\n";
    let mut page = head.as_bytes().to_vec();
    let pad = INDEX_LEN.saturating_sub(head.len() + tail.len() + 9);
    page.extend_from_slice(b"<!--");
    page.extend_from_slice(&vec![b'.'; pad]);
    page.extend_from_slice(b"-->\n");
    page.push(b'\n');
    page.extend_from_slice(tail.as_bytes());
    page
}

/// Write `html/` (the site) and the empty `logs/`, `conf/`, `tmp/` folders.
pub fn write(prefix: &Path) -> io::Result<()> {
    for d in ["html", "logs", "conf", "tmp"] {
        std::fs::create_dir_all(prefix.join(d))?;
    }
    let html = prefix.join("html");
    std::fs::write(html.join("index.html"), index_html())?;
    std::fs::write(html.join("small.txt"), SMALL_TXT)?;
    std::fs::write(html.join("big.bin"), vec![b'b'; BIG_LEN])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_is_exactly_615_bytes_of_html() {
        let page = super::index_html();
        assert_eq!(page.len(), super::INDEX_LEN);
        assert!(page.starts_with(b"<!DOCTYPE html>"));
        assert!(page.ends_with(b"</html>\n"));
    }
}
