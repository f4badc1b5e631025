//! Which protocol a plain connection speaks, read from its first bytes, and those bytes
//! handed to the server again.
//!
//! A connection without TLS says nothing of its protocol before its first bytes: HTTP/2
//! with prior knowledge starts with a fixed preface, anything else is HTTP/1. The bytes are
//! read (not peeked at, which would cost a second system call for the same bytes) and
//! [`Replay`] gives them to hyper before the rest of the stream: a feed reader's whole
//! request usually comes in that one read.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.x: the first bytes are not the HTTP/2 connection preface.
    Http1,
    /// HTTP/2 with prior knowledge: the connection starts with the preface.
    Http2,
}

/// What every HTTP/2 connection starts with (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The most read before the protocol is known: a request head usually fits.
const FIRST_READ: usize = 4096;

/// Reads from `io` until its first bytes show the protocol: anything that is not a prefix
/// of the HTTP/2 preface (HTTP/1), or the whole preface (HTTP/2). Returns the protocol and
/// every byte read, for [`Replay`]. `None` when the client closes or the read fails first
/// (a [`super::deadline::HeadDeadline`] under it fails a read that waits too long).
pub async fn first_bytes<I: AsyncRead + Unpin>(io: &mut I) -> Option<(Protocol, Vec<u8>)> {
    let mut head = Vec::with_capacity(FIRST_READ);
    loop {
        match io.read_buf(&mut head).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let n = head.len().min(H2_PREFACE.len());
        if head[..n] != H2_PREFACE[..n] {
            return Some((Protocol::Http1, head));
        }
        if n == H2_PREFACE.len() {
            return Some((Protocol::Http2, head));
        }
    }
}

/// A byte stream that reads `head` first, then the stream's own bytes; writes go straight
/// to the stream.
#[derive(Debug)]
pub struct Replay<I> {
    io: I,
    head: Vec<u8>,
    /// How much of `head` was read again.
    at: usize,
}

impl<I> Replay<I> {
    /// `io`, whose reads start with `head`.
    pub fn new(io: I, head: Vec<u8>) -> Replay<I> {
        Replay { io, head, at: 0 }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Replay<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.head.len() {
            let n = buf.remaining().min(this.head.len() - this.at);
            buf.put_slice(&this.head[this.at..this.at + n]);
            this.at += n;
            if this.at == this.head.len() {
                // Read again whole: its memory goes back now, not with the connection.
                this.head = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Replay<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncWriteExt};

    #[tokio::test]
    async fn a_request_line_is_http1_and_is_read_again_before_the_rest() {
        let (mut client, mut server) = duplex(1 << 16);
        client
            .write_all(b"GET /rss.xml HTTP/1.1\r\n")
            .await
            .unwrap();
        let (protocol, head) = first_bytes(&mut server).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(head, b"GET /rss.xml HTTP/1.1\r\n");
        client.write_all(b"Host: x\r\n\r\n").await.unwrap();
        drop(client);
        let mut replay = Replay::new(server, head);
        // Reads smaller than the head take it in pieces.
        let mut first = [0u8; 5];
        replay.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"GET /");
        let mut rest = Vec::new();
        replay.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"rss.xml HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    #[tokio::test]
    async fn the_preface_in_pieces_is_http2_and_a_wrong_byte_in_it_is_http1() {
        let (mut client, mut server) = duplex(1 << 16);
        let reading = tokio::spawn(async move { first_bytes(&mut server).await });
        for piece in [&H2_PREFACE[..3], &H2_PREFACE[3..17], &H2_PREFACE[17..]] {
            client.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        let (protocol, head) = reading.await.unwrap().unwrap();
        assert_eq!(
            (protocol, head.as_slice()),
            (Protocol::Http2, &H2_PREFACE[..])
        );

        let (mut client, mut server) = duplex(1 << 16);
        client.write_all(b"PRI * HTTP/1.1\r\n").await.unwrap();
        assert_eq!(first_bytes(&mut server).await.unwrap().0, Protocol::Http1);
    }

    #[tokio::test]
    async fn a_client_that_closes_within_the_preface_or_at_once_is_none() {
        let (mut client, mut server) = duplex(1 << 16);
        client.write_all(&H2_PREFACE[..10]).await.unwrap();
        drop(client);
        assert!(first_bytes(&mut server).await.is_none());
        let (client, mut server) = duplex(1 << 16);
        drop(client);
        assert!(first_bytes(&mut server).await.is_none());
    }
}
