//! The server's TLS: its certificate for `--tls-cert` / `--tls-key`, and
//! the accept that tells plain HTTP sent to the HTTPS port what to use.

use std::io;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::core::tls::provider;

/// The server side, from PEM files (certificate chain, private key).
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading certificates from {} (--tls-cert)", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key from {} (--tls-key)", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not belong together (--tls-cert, --tls-key)")?;
    // HTTP/2 first: clients that speak it get it, the others HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// Accepts TLS on `stream`; `None` when the client spoke plain HTTP to
/// this HTTPS port instead: it was answered 400, saying which URL to use
/// (rather than the empty reply a failed handshake gives).
pub async fn accept(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: TcpStream,
) -> io::Result<Option<tokio_rustls::server::TlsStream<TcpStream>>> {
    let mut first = [0u8; 1];
    // An HTTP request line starts with its method, in capitals.
    if stream.peek(&mut first).await? == 1
        && first[0] != TLS_HANDSHAKE
        && first[0].is_ascii_uppercase()
    {
        answer_plain_http(stream).await?;
        return Ok(None);
    }
    acceptor.accept(stream).await.map(Some)
}

/// Reads the request head (bounded), answers 400 in words and closes.
async fn answer_plain_http(mut stream: TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let body = format!("{}\n", use_https(&String::from_utf8_lossy(&head)));
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         x-content-type-options: nosniff\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await?;
    // Read what else the client sent (a body) before the socket closes: a
    // close with unread data resets the connection, and the client could
    // lose the answer.
    let drain = async { while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
    Ok(())
}

/// "This port speaks HTTPS: use https://HOST/PATH", from a plain request's
/// head (its request target and Host).
fn use_https(head: &str) -> String {
    let path = (head.split_whitespace().nth(1))
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    let host = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map_or("HOST", |(_, v)| v.trim());
    // Only what a URL may hold goes back to the client.
    let url: String = format!("https://{host}{path}")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(2048)
        .collect();
    format!("This port speaks HTTPS: use {url}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_requests_are_told_the_https_url() {
        assert_eq!(
            super::use_https("GET /abc/x?y=1 HTTP/1.1\r\nHost: h.example:8443\r\n\r\n"),
            "This port speaks HTTPS: use https://h.example:8443/abc/x?y=1"
        );
        assert_eq!(
            super::use_https("GET / HTTP/1.0\r\n\r\n"),
            "This port speaks HTTPS: use https://HOST/"
        );
    }
}
