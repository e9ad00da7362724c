//! Connections to the local app that acknowledge what the app sends at
//! once. Many dev servers (Python's `http.server`, among others) write a
//! response's head and body in two writes with Nagle's algorithm on: the
//! body waits until the head is acknowledged, and Linux delays that ACK by
//! up to 40 ms when the connection looks interactive. One stall per
//! delivery caps an ordered tunnel at ~35 deliveries/s; `TCP_QUICKACK`
//! when an answer's first bytes come in sends the ACK at once. The flag
//! does not stick (the kernel falls back to delayed ACKs), hence once per
//! answer — not on every read, which cost fast apps ~15% of their
//! deliveries per second.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// hyper's HTTP connector, handing out [`QuickAck`] connections.
#[derive(Clone)]
pub struct QuickAckConnector(pub HttpConnector);

/// A TCP connection that asks for an immediate ACK when it reads an
/// answer to what it wrote.
pub struct QuickAck {
    io: TokioIo<TcpStream>,
    /// Something was written since the last request for quick ACKs.
    wrote: bool,
}

impl tower::Service<Uri> for QuickAckConnector {
    type Response = QuickAck;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<QuickAck, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move { connecting.await.map(|io| QuickAck { io, wrote: false }) })
    }
}

impl QuickAck {
    fn ack_at_once(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // Best effort: a failure only costs the delay it avoids.
            let _ = socket2::SockRef::from(self.io.inner()).set_tcp_quickack(true);
        }
    }
}

impl Read for QuickAck {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        // Once per answer, when its first bytes came in.
        if this.wrote && matches!(read, Poll::Ready(Ok(()))) {
            this.wrote = false;
            this.ack_at_once();
        }
        read
    }
}

impl Write for QuickAck {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.wrote = true;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.wrote = true;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }
}

impl Connection for QuickAck {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}
