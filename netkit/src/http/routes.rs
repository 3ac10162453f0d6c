//! The routes of [`super::HttpTarget`], as a pure function of the request
//! line (no I/O), so they are testable without a server.

use std::time::Duration;

/// Body of `GET /` (and of unknown paths with a 404). The text predates
/// this crate; it stays byte for byte so runs keep their transfer figures.
pub const SMALL_BODY: &[u8] = b"hello from testkit\n";
/// Largest `/bytes/N` served (bigger asks get a 400).
pub const MAX_BYTES: usize = 256 * 1024 * 1024;
/// Longest `/delay/MS` served (longer asks get a 400).
pub const MAX_DELAY_MS: u64 = 60_000;

/// What a request asks the target to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/`: 200 with [`SMALL_BODY`].
    Small,
    /// `/bytes/N`: 200 with an N-byte body.
    Bytes(usize),
    /// `/status/NNN`: that status (200..=599).
    Status(u16),
    /// `/echo`: 200 with the request body.
    Echo,
    /// `/delay/MS`: 200 with [`SMALL_BODY`] after MS milliseconds.
    Delay(Duration),
    /// A known prefix with an invalid argument: 400.
    BadRequest,
    /// Anything else: 404.
    NotFound,
}

/// Map a request path (query string ignored) to its route.
pub fn route(path: &str) -> Route {
    let path = path.split('?').next().unwrap_or("");
    if path == "/" {
        return Route::Small;
    }
    if path == "/echo" {
        return Route::Echo;
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        return match n.parse::<usize>() {
            Ok(n) if n <= MAX_BYTES => Route::Bytes(n),
            _ => Route::BadRequest,
        };
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return match code.parse::<u16>() {
            Ok(c) if (200..=599).contains(&c) => Route::Status(c),
            _ => Route::BadRequest,
        };
    }
    if let Some(ms) = path.strip_prefix("/delay/") {
        return match ms.parse::<u64>() {
            Ok(ms) if ms <= MAX_DELAY_MS => Route::Delay(Duration::from_millis(ms)),
            _ => Route::BadRequest,
        };
    }
    Route::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/"), Route::Small);
        assert_eq!(route("/?x=1"), Route::Small);
        assert_eq!(route("/echo"), Route::Echo);
        assert_eq!(route("/bytes/0"), Route::Bytes(0));
        assert_eq!(route("/bytes/2000000"), Route::Bytes(2_000_000));
        assert_eq!(route("/bytes/-1"), Route::BadRequest);
        assert_eq!(route("/bytes/999999999999"), Route::BadRequest);
        assert_eq!(route("/status/404"), Route::Status(404));
        assert_eq!(route("/status/99"), Route::BadRequest);
        assert_eq!(route("/status/abc"), Route::BadRequest);
        assert_eq!(
            route("/delay/250"),
            Route::Delay(Duration::from_millis(250))
        );
        assert_eq!(route("/delay/60001"), Route::BadRequest);
        assert_eq!(route("/nope"), Route::NotFound);
        assert_eq!(route(""), Route::NotFound);
    }
}
