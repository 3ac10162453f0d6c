//! rustls glue for `https://` targets (wrk.md §5.1).
//!
//! Like wrk: no certificate or host name verification, TLS 1.2 and 1.3 (a
//! TLS 1.0-only server fails the handshake, golden/24), SNI = URL host, no
//! ALPN, client session cache on so reconnects may resume. rustls never sends
//! an IP address as SNI, so for IP literals the extension is absent (wrk sends
//! it); servers answer the same.
//!
//! [`TlsSession`] wraps one rustls client connection over a non-blocking
//! socket with the three operations the engine needs: handshake step, write
//! a batch, read plaintext.

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::error_detail::Cause;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

/// Accepts every certificate (wrk does not verify).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Accepted unchecked, as under TLS 1.2.
        self.verify_tls12_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client context shared by every connection of the run.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("name", &self.name)
            .finish()
    }
}

impl TlsClient {
    /// Context for `host` (the URL host: DNS name or IP literal). A host
    /// rustls does not accept as a name is replaced by the target address
    /// `ip` (then no SNI is sent).
    pub fn new(host: &str, ip: std::net::IpAddr) -> Result<TlsClient, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(NoVerify(provider.clone()));
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| ServerName::IpAddress(ip.into()));
        Ok(TlsClient {
            config: Arc::new(config),
            name,
        })
    }

    /// A fresh session for a new TCP connection.
    pub fn session(&self) -> Result<TlsSession, rustls::Error> {
        let conn = ClientConnection::new(self.config.clone(), self.name.clone())?;
        Ok(TlsSession { conn })
    }
}

/// Outcome of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Plaintext bytes placed in the buffer (may be 0 with more to come).
    Data(usize),
    /// Nothing more until the next readable event.
    WouldBlock,
    /// The peer closed (TCP EOF or close_notify).
    Eof,
    /// Socket or TLS failure, and why (`--errors detail`).
    Error(crate::error_detail::Cause),
}

/// Outcome of a handshake step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    Done,
    /// Wait for the next socket event.
    Pending,
    /// Failed (wrk counts a connect error).
    Failed,
}

/// One TLS client session.
pub struct TlsSession {
    conn: ClientConnection,
}

impl TlsSession {
    /// One handshake step over the non-blocking socket.
    pub fn handshake<S: Read + Write>(&mut self, sock: &mut S) -> Handshake {
        loop {
            if self.flush(sock).is_err() {
                return Handshake::Failed;
            }
            if !self.conn.is_handshaking() {
                return Handshake::Done;
            }
            if !self.conn.wants_read() {
                // Only pending writes remain; wait for writability.
                return Handshake::Pending;
            }
            match self.conn.read_tls(sock) {
                Ok(0) => return Handshake::Failed,
                Ok(_) => {
                    if self.conn.process_new_packets().is_err() {
                        let _ = self.flush(sock); // the alert
                        return Handshake::Failed;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.flush(sock).is_err() {
                        return Handshake::Failed;
                    }
                    return if self.conn.is_handshaking() {
                        Handshake::Pending
                    } else {
                        Handshake::Done
                    };
                }
                Err(_) => return Handshake::Failed,
            }
        }
    }

    /// Encrypts `data` and sends what the socket takes. Returns the
    /// plaintext bytes accepted (all of them, unless the buffer limit bit).
    pub fn write<S: Write>(&mut self, sock: &mut S, data: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(data)?;
        self.flush(sock)?;
        Ok(n)
    }

    /// Sends buffered TLS records; `WouldBlock` is not an error.
    pub fn flush<S: Write>(&mut self, sock: &mut S) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether encrypted bytes still wait for the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Reads plaintext into `buf`, pulling records from `sock` as needed.
    pub fn read<S: Read + Write>(&mut self, sock: &mut S, buf: &mut [u8]) -> ReadOutcome {
        loop {
            match self.conn.reader().read(buf) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => return ReadOutcome::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return ReadOutcome::Eof,
            }
            match self.conn.read_tls(sock) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(_) => {
                    if self.conn.process_new_packets().is_err() {
                        let _ = self.flush(sock);
                        return ReadOutcome::Error(Cause::Tls);
                    }
                    // Key updates or tickets may want a reply.
                    if self.conn.wants_write() {
                        if let Err(e) = self.flush(sock) {
                            return ReadOutcome::Error(Cause::io(&e));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::WouldBlock,
                Err(e) => return ReadOutcome::Error(Cause::io(&e)),
            }
        }
    }

    /// Sends close_notify (best effort) before the socket is closed.
    pub fn close<S: Write>(&mut self, sock: &mut S) {
        self.conn.send_close_notify();
        let _ = self.flush(sock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fallback() {
        let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        for host in [
            "localhost",
            "example.com",
            "127.0.0.1",
            "[::1]",
            "bad host name",
            "",
        ] {
            let c = TlsClient::new(host, ip).expect("client");
            assert!(c.session().is_ok(), "{host}");
        }
        let c = TlsClient::new("bad host name", ip).unwrap();
        assert_eq!(c.name, ServerName::IpAddress(ip.into()));
    }
}
