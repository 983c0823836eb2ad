//! Connection guards for [`serve`](super::server::serve): every connection gets a bounded time to
//! send each request head and may sit idle only so long; a stalled response write ends it; and
//! only [`MAX_CONNECTIONS`] are open at once.
//!
//! hyper (as axum drives it) has no timer, so its own header timeout is off. Instead the I/O is
//! wrapped: the wrapper finds the end of each request head (the first empty line) in the bytes
//! hyper reads, and fails a read that is still waiting when the head's deadline passes. From
//! the end of a head until the response is written, reads have no deadline (the body has its own,
//! [`BODY_READ_TIMEOUT`](super::limits::BODY_READ_TIMEOUT), enforced around reading it, and a
//! handler may legitimately take up to the injected latency). Timers are `tokio::time`, so
//! tests drive them with a paused clock.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::limits::{HEADER_READ_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS, WRITE_TIMEOUT};

/// The time limits of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// From the accept, or from the first byte of a later request, to the end of its head.
    pub header_read: Duration,
    /// From the end of a response to the first byte of the next request.
    pub idle: Duration,
    /// Longest a write may make no progress.
    pub write: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read: HEADER_READ_TIMEOUT,
            idle: IDLE_TIMEOUT,
            write: WRITE_TIMEOUT,
        }
    }
}

/// A [`Listener`] whose connections are [`GuardedIo`]s, at most `max_connections` at once.
pub struct GuardedListener<L> {
    inner: L,
    limits: ConnLimits,
    slots: Arc<Semaphore>,
}

impl<L: Listener> GuardedListener<L> {
    /// [`MAX_CONNECTIONS`] connections with the default [`ConnLimits`].
    pub fn new(inner: L) -> Self {
        GuardedListener::with_limits(inner, ConnLimits::default(), MAX_CONNECTIONS)
    }

    pub fn with_limits(inner: L, limits: ConnLimits, max_connections: usize) -> Self {
        GuardedListener {
            inner,
            limits,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
        }
    }
}

impl<L: Listener> Listener for GuardedListener<L> {
    type Io = GuardedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Waits while all slots are taken; a slot is freed when its connection is dropped.
        let permit = Arc::clone(&self.slots).acquire_owned().await.ok();
        let (io, addr) = self.inner.accept().await;
        (GuardedIo::new(io, self.limits, permit), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Where a connection is in its request/response cycle, as far as the bytes tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for (more of) a request head. `started`: a byte of it arrived; `newline`: the
    /// last significant byte was a line feed (an empty line next ends the head); `content`: a
    /// byte other than CR/LF arrived (empty lines before a request do not end it).
    Head { started: bool, newline: bool, content: bool },
    /// The head is complete; the request is being handled.
    InFlight,
}

const FRESH_HEAD: Phase = Phase::Head {
    started: false,
    newline: false,
    content: false,
};

/// I/O with a deadline on each request head, an idle limit between requests, and a write
/// timeout. Dropping it frees its connection slot.
pub struct GuardedIo<T> {
    inner: T,
    limits: ConnLimits,
    phase: Phase,
    /// Armed while a head is awaited.
    read_deadline: Pin<Box<Sleep>>,
    read_armed: bool,
    write_deadline: Pin<Box<Sleep>>,
    write_armed: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, limits: ConnLimits, permit: Option<OwnedSemaphorePermit>) -> Self {
        let now = Instant::now();
        GuardedIo {
            inner,
            limits,
            phase: FRESH_HEAD,
            // A new connection must send its first head within the header timeout.
            read_deadline: Box::pin(tokio::time::sleep_until(deadline(now, limits.header_read))),
            read_armed: true,
            write_deadline: Box::pin(tokio::time::sleep_until(deadline(now, limits.write))),
            write_armed: false,
            _permit: permit,
        }
    }

    fn arm_read(&mut self, after: Duration) {
        self.read_deadline.as_mut().reset(deadline(Instant::now(), after));
        self.read_armed = true;
    }

    /// Follows the request head through `bytes` just read.
    fn observe_read(&mut self, bytes: &[u8]) {
        let Phase::Head {
            mut started,
            mut newline,
            mut content,
        } = self.phase
        else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        if !started {
            started = true;
            // The head of a request that follows an idle period gets the header timeout.
            self.arm_read(self.limits.header_read);
        }
        for &byte in bytes {
            match byte {
                b'\n' if newline && content => {
                    self.phase = Phase::InFlight;
                    self.read_armed = false;
                    return;
                }
                b'\n' => newline = true,
                b'\r' => {}
                _ => {
                    newline = false;
                    content = true;
                }
            }
        }
        self.phase = Phase::Head { started, newline, content };
    }

    /// A response is being written: the next request's head is awaited, after an idle period.
    fn observe_write(&mut self, written: usize) {
        if written > 0 && self.phase == Phase::InFlight {
            self.phase = FRESH_HEAD;
            self.arm_read(self.limits.idle);
        }
    }

    /// Poll of a write that returned `poll`: arms the write deadline while it makes no progress.
    fn guard_write<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => {
                if !self.write_armed {
                    self.write_deadline.as_mut().reset(deadline(Instant::now(), self.limits.write));
                    self.write_armed = true;
                }
                if self.write_deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "response write timed out")));
                }
                Poll::Pending
            }
            ready => {
                self.write_armed = false;
                ready
            }
        }
    }
}

/// `now + after`, or a far but representable instant.
fn deadline(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                this.observe_read(read);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => {
                if this.read_armed && this.read_deadline.as_mut().poll(cx).is_ready() {
                    let what = match this.phase {
                        Phase::Head { started: true, .. } => "request head not received in time",
                        _ => "connection idle too long",
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = &poll {
            this.observe_write(*written);
        }
        this.guard_write(cx, poll)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = &poll {
            this.observe_write(*written);
        }
        this.guard_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.guard_write(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.guard_write(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    fn guarded(inner: tokio::io::DuplexStream) -> GuardedIo<tokio::io::DuplexStream> {
        GuardedIo::new(inner, ConnLimits::default(), None)
    }

    async fn read_some(io: &mut GuardedIo<tokio::io::DuplexStream>) -> io::Result<Vec<u8>> {
        let mut buf = [0u8; 256];
        let n = io.read(&mut buf).await?;
        Ok(buf[..n].to_vec())
    }

    /// The next read fails with a timeout, `after` past `start`.
    async fn read_times_out(io: &mut GuardedIo<tokio::io::DuplexStream>, start: Instant, after: Duration) {
        let err = read_some(io).await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), after);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_times_out() {
        let (_client, server) = duplex(1024);
        let mut io = guarded(server);
        read_times_out(&mut io, Instant::now(), HEADER_READ_TIMEOUT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn half_a_head_times_out_even_when_trickled() {
        let (mut client, server) = duplex(1024);
        let mut io = guarded(server);
        let start = Instant::now();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("writes");
        read_some(&mut io).await.expect("reads");
        // One more byte every few seconds does not extend the deadline.
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_secs(4)).await;
            client.write_all(b"X").await.expect("writes");
            read_some(&mut io).await.expect("reads");
        }
        read_times_out(&mut io, start, HEADER_READ_TIMEOUT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_complete_head_lifts_the_deadline_until_the_response() {
        let (mut client, server) = duplex(1024);
        let mut io = guarded(server);
        client
            .write_all(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("writes");
        read_some(&mut io).await.expect("reads the head");
        assert_eq!(io.phase, Phase::InFlight);
        // A slow handler: no read deadline while the request is in flight.
        let pending = tokio::time::timeout(Duration::from_secs(600), read_some(&mut io)).await;
        assert!(pending.is_err(), "still waiting, not failed");
        // The response starts the idle period.
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.expect("writes");
        read_times_out(&mut io, Instant::now(), IDLE_TIMEOUT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_does_not_read_is_dropped() {
        let (_client, server) = duplex(16);
        let mut io = guarded(server);
        let start = Instant::now();
        let err = io.write_all(&[0u8; 1024]).await.expect_err("write stalls");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), WRITE_TIMEOUT);
    }
}
