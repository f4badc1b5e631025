//! A client connection's byte stream as the server reads it: the first bytes, read before
//! the protocol was known, handed out again; and the header read timeout.
//!
//! A client gets `timeout` to send each request head, counted from the moment the server
//! first waits to read it: the start of the connection, or the end of the previous
//! response. A client that sends nothing, sends a head a byte at a time (slowloris) or
//! leaves a kept-alive connection idle is cut then: otherwise it would hold its connection
//! forever.
//!
//! hyper can keep this timeout itself (`http1::Builder::header_read_timeout`), but it makes
//! a timer for every request head it waits for (an allocation, a place in the runtime's
//! timer wheel, and its removal once the head is read): about 1,100 of the 14,300
//! instructions of a kept-alive 304. Here one timer lives as long as the connection. A
//! write (the response) clears the deadline, the next read sets it again with one clock
//! reading, and the timer only moves when it fires before the deadline: at most once per
//! `timeout` of a busy connection.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A connection's byte stream: reads give the bytes handed to [`Stream::replaying`] first,
/// then the connection's own; timed reads fail with [`io::ErrorKind::TimedOut`] when a wait
/// for a request head outlasts the timeout (see the module's documentation). Must be made
/// in a tokio runtime with its timer enabled.
#[derive(Debug)]
pub struct Stream<I> {
    io: I,
    timeout: Duration,
    /// When the current wait for a request head ends: set by the first read after a write,
    /// cleared by every write.
    deadline: Option<Instant>,
    /// Fires at or before `deadline`; moved to it when it fires early. `None`: untimed.
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes read before, to be read again.
    head: Vec<u8>,
    /// How much of `head` was read again.
    at: usize,
}

impl<I> Stream<I> {
    /// `io`, whose client gets `timeout` for each request head, the first from now.
    pub fn new(io: I, timeout: Duration) -> Stream<I> {
        let deadline = Instant::now() + timeout;
        Stream {
            io,
            timeout,
            deadline: Some(deadline),
            timer: Some(Box::pin(tokio::time::sleep_until(deadline))),
            head: Vec::new(),
            at: 0,
        }
    }

    /// The same stream, whose reads first give `head` (bytes read from it before) again.
    pub fn replaying(mut self, head: Vec<u8>) -> Stream<I> {
        self.head = head;
        self.at = 0;
        self
    }

    /// The same stream without the timeout: for HTTP/2, which keeps its connections alive
    /// with its own pings.
    pub fn untimed(mut self) -> Stream<I> {
        self.timer = None;
        self.deadline = None;
        self
    }

    /// Takes note of a write: once bytes went out, the wait for the next head starts at the
    /// next read.
    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(1..)) = result {
            self.deadline = None;
        }
    }

    /// Copies what `buf` takes of the rest of `head`; frees `head` once all of it was read.
    fn replay(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.head.len() - self.at);
        buf.put_slice(&self.head[self.at..self.at + n]);
        self.at += n;
        if self.at == self.head.len() {
            // Read again whole: its memory goes back now, not with the connection.
            self.head = Vec::new();
            self.at = 0;
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Stream<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.head.len() {
            this.replay(buf);
            return Poll::Ready(Ok(()));
        }
        let Some(timer) = this.timer.as_mut() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        let timeout = this.timeout;
        let deadline = *this
            .deadline
            .get_or_insert_with(|| Instant::now() + timeout);
        if let ready @ Poll::Ready(_) = Pin::new(&mut this.io).poll_read(cx, buf) {
            return ready;
        }
        // Nothing to read yet: be woken at the deadline at the latest.
        while timer.as_mut().poll(cx).is_ready() {
            if Instant::now() >= deadline {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request head within the header read timeout",
                )));
            }
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Stream<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(&result);
        result
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
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    const TIMEOUT: Duration = Duration::from_secs(10);

    async fn read_some(io: &mut Stream<tokio::io::DuplexStream>) -> io::Result<usize> {
        let mut buf = [0u8; 64];
        io.read(&mut buf).await
    }

    #[tokio::test]
    async fn bytes_read_before_are_read_again_first_in_pieces_then_the_connection() {
        let (mut client, server) = duplex(1 << 16);
        client.write_all(b"Host: x\r\n\r\n").await.unwrap();
        drop(client);
        let head = b"GET /rss.xml HTTP/1.1\r\n".to_vec();
        let mut stream = Stream::new(server, TIMEOUT).replaying(head);
        let mut first = [0u8; 5];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"GET /");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"rss.xml HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn an_untimed_stream_waits_past_the_timeout() {
        let (mut client, server) = duplex(1024);
        let mut stream = Stream::new(server, TIMEOUT).untimed();
        let start = Instant::now();
        let late = tokio::spawn(async move {
            tokio::time::sleep(TIMEOUT * 3).await;
            client.write_all(b"PING").await.unwrap();
            client
        });
        assert_eq!(read_some(&mut stream).await.unwrap(), 4);
        assert_eq!(start.elapsed(), TIMEOUT * 3);
        drop(late.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_cut_at_the_timeout_and_not_before() {
        let (_client, server) = duplex(1024);
        let mut server = Stream::new(server, TIMEOUT);
        let start = Instant::now();
        let error = read_some(&mut server).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_sent_a_byte_at_a_time_gets_the_timeout_in_all() {
        let (mut client, server) = duplex(1024);
        let mut server = Stream::new(server, TIMEOUT);
        let start = Instant::now();
        let dribble = tokio::spawn(async move {
            for _ in 0..100 {
                tokio::time::sleep(TIMEOUT / 4).await;
                if client.write_all(b"G").await.is_err() {
                    return;
                }
            }
        });
        let mut read = 0;
        let error = loop {
            match read_some(&mut server).await {
                Ok(n) => read += n,
                Err(e) => break e,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), TIMEOUT);
        assert_eq!(read, 3, "bytes at 2.5, 5 and 7.5 s, none at 10 s");
        dribble.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn each_response_starts_a_new_wait_so_a_busy_connection_lives_on() {
        let (mut client, server) = duplex(1024);
        let mut server = Stream::new(server, TIMEOUT);
        let start = Instant::now();
        // A request every 6 s, answered each time: 60 s in all, six times the timeout.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            assert!(read_some(&mut server).await.unwrap() > 0);
            server
                .write_all(b"HTTP/1.1 304 Not Modified\r\n\r\n")
                .await
                .unwrap();
            let mut answer = [0u8; 64];
            assert!(client.read(&mut answer).await.unwrap() > 0);
        }
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        // Then idle: cut one timeout after the last response.
        let idle = Instant::now();
        let error = read_some(&mut server).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(idle.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_response_reads_keep_the_first_deadline() {
        let (mut client, server) = duplex(1024);
        let mut server = Stream::new(server, TIMEOUT);
        let start = Instant::now();
        // Whole lines every 6 s, never answered: one head's wait, however much arrives.
        tokio::time::sleep(Duration::from_secs(6)).await;
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        assert!(read_some(&mut server).await.unwrap() > 0);
        let error = read_some(&mut server).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), TIMEOUT);
    }
}
