//! The answers the HTTP layer writes by itself, in the surface's error shape. hyper refuses a
//! request line over its own URI limit (64 KiB) with a bare `414`, a head over its buffer with a
//! bare `431`, and an unparsable head with a bare `400`, each with an empty body, before any
//! middleware runs. [`HeadGuard`] wraps a connection and replaces such a bare answer, as it is
//! written, with the same status carrying Graph's error envelope (or Partner Center's, for a
//! request under `/v1/`), so that no client ever reads an empty error. Smaller request lines and
//! headers are refused by `serve::head_limits` in the same shapes.

use std::future::Future as _;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of a request's first bytes is kept to tell its surface.
const PREFIX: usize = 16;

/// A connection whose bare error answers from the HTTP layer are rewritten.
pub struct HeadGuard<I> {
    inner: I,
    /// The first bytes of the request being read (its method and the start of its path).
    prefix: Vec<u8>,
    /// The next bytes read start a request.
    at_start: bool,
    /// A replacement answer being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<I> HeadGuard<I> {
    pub const fn new(inner: I) -> Self {
        Self {
            inner,
            prefix: Vec::new(),
            at_start: true,
            pending: None,
        }
    }
}

/// The status of a bare error answer (`HTTP/1.1 4xx …` with an empty body and no content type),
/// if `head` is one.
fn bare_error(head: &[u8]) -> Option<StatusCode> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    let lower = text.to_ascii_lowercase();
    let empty = lower.contains("\r\ncontent-length: 0\r\n") && !lower.contains("\r\ncontent-type:");
    (status.is_client_error() && empty && lower.ends_with("\r\n\r\n")).then_some(status)
}

/// The path of the request that `prefix` starts (`GET /v1/customers…`).
fn path_of(prefix: &[u8]) -> String {
    let text = String::from_utf8_lossy(prefix);
    text.split(' ').nth(1).unwrap_or("/").to_owned()
}

/// The full answer replacing a bare `status` for a request to `path`.
fn replacement(status: StatusCode, path: &str) -> Vec<u8> {
    let (code, message) = match status {
        StatusCode::URI_TOO_LONG => (
            "RequestUriTooLong",
            format!(
                "The request URL is longer than the {} bytes accepted.",
                crate::serve::MAX_URI_BYTES
            ),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "RequestHeaderFieldsTooLarge",
            "The request head is larger than the server accepts.".to_owned(),
        ),
        _ => (
            "BadRequest",
            "The request line or headers could not be read as HTTP/1.1.".to_owned(),
        ),
    };
    let (id, response) = crate::context::with_new_ids(|| crate::serve::refused(path, status, code, message));
    let (parts, body) = response.into_parts();
    // The error bodies are whole in memory: one poll of the collector finishes.
    let mut collect = pin!(axum::body::to_bytes(body, 1 << 20));
    let body = match collect.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(bytes)) => bytes.to_vec(),
        _ => Vec::new(),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_LENGTH
            && let Ok(v) = value.to_str()
        {
            out.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    out.push_str(&format!(
        "request-id: {id}\r\nclient-request-id: {id}\r\ndate: {}\r\ncontent-length: {}\r\n\r\n",
        httpdate(),
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

fn httpdate() -> String {
    chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

impl<I: AsyncRead + Unpin> AsyncRead for HeadGuard<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_ready() && self.at_start {
            let new = &buf.filled()[before..];
            let want = PREFIX.saturating_sub(self.prefix.len()).min(new.len());
            let head = new[..want].to_vec();
            self.prefix.extend_from_slice(&head);
            if self.prefix.len() >= PREFIX || new.is_empty() {
                self.at_start = false;
            }
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for HeadGuard<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            let Some(status) = bare_error(buf) else {
                if buf.starts_with(b"HTTP/1.1 ") {
                    // An answer: what is read next starts the next request.
                    self.at_start = true;
                    self.prefix.clear();
                }
                return Pin::new(&mut self.inner).poll_write(cx, buf);
            };
            let path = path_of(&self.prefix);
            self.pending = Some((replacement(status, &path), 0));
        }
        // Write the replacement out whole, then tell hyper its own answer went.
        loop {
            let this = &mut *self;
            let Some((bytes, sent)) = this.pending.as_mut() else {
                return Poll::Ready(Ok(buf.len()));
            };
            if *sent == bytes.len() {
                this.pending = None;
                this.at_start = true;
                this.prefix.clear();
                return Poll::Ready(Ok(buf.len()));
            }
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_client_errors_are_replaced() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(bare_error(bare), Some(StatusCode::URI_TOO_LONG));
        let shaped =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error(shaped), None);
        let ok = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error(ok), None);
        assert_eq!(path_of(b"GET /v1/customers?x"), "/v1/customers?x");
    }
}
