//! Which protocol a plain connection speaks, read from its first bytes.
//!
//! A connection without TLS says nothing of its protocol before its first bytes: HTTP/2
//! with prior knowledge starts with a fixed preface, anything else is HTTP/1. The bytes are
//! read (not peeked at, which would cost a second system call for the same bytes) and
//! [`super::stream::Stream::replaying`] gives them to hyper before the rest of the
//! connection: a feed reader's whole request usually comes in that one read.

use tokio::io::{AsyncRead, AsyncReadExt};

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
/// every byte read, to be read again. `None` when the client closes or the read fails first
/// (a [`super::stream::Stream`] fails a read that waits too long).
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncWriteExt};

    #[tokio::test]
    async fn a_request_line_is_http1_with_the_bytes_read() {
        let (mut client, mut server) = duplex(1 << 16);
        client
            .write_all(b"GET /rss.xml HTTP/1.1\r\n")
            .await
            .unwrap();
        let (protocol, head) = first_bytes(&mut server).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(head, b"GET /rss.xml HTTP/1.1\r\n");
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
