//! The client's end of `/ws/payments`: the WebSocket upgrade, done here
//! rather than by axum's `WebSocketUpgrade` (which hides the connection),
//! so that the feed writes frames built once, when an event is published,
//! straight to the client's connection: one vectored write per burst, for
//! every watcher the same bytes, nothing copied into a buffer each
//! connection keeps. Tungstenite reads what the client sends (pongs and a
//! close) and answers its pings and close itself.
//!
//! Why: with tungstenite's writes every watcher serialized each frame into
//! its own buffer, which a burst grew to ~64 KiB and the connection kept
//! for life, and which the fan-out spent more of its processor time on
//! than the tuned bare server (issue 13; docs/ARCHITECTURE.md, "Fan-out").

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use paypulse_shared::error::ErrorCode;
use tokio::io::AsyncWrite;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::error::ApiError;

/// A request to open a WebSocket (RFC 6455 §4.2.1), checked; refused with
/// 426 `websocket_required` when it is not one.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let refuse = |why: &str| ApiError::new(ErrorCode::WebsocketRequired, format!("not a WebSocket request: {why}"));
        // The server speaks HTTP/1.1 only; a WebSocket over HTTP/2 (RFC
        // 8441) would come as a CONNECT, and one over HTTP/1.0 is not one
        // (RFC 6455 §4.2.1).
        if parts.version != Version::HTTP_11 {
            return Err(refuse("the live feed is served over HTTP/1.1"));
        }
        if parts.method != Method::GET {
            return Err(refuse("the method must be GET"));
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(refuse("the Connection header must include 'upgrade'"));
        }
        if !has_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(refuse("the Upgrade header must be 'websocket'"));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(HeaderValue::as_bytes)
            != Some(b"13")
        {
            return Err(refuse("the Sec-WebSocket-Version header must be 13"));
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or_else(|| refuse("the Sec-WebSocket-Key header is missing"))?;
        // A nonce of 16 bytes in base64 (RFC 6455 §4.1).
        let nonce = base64::engine::general_purpose::STANDARD.decode(key.as_bytes());
        if nonce.map(|nonce| nonce.len()) != Ok(16) {
            return Err(refuse("the Sec-WebSocket-Key header must be 16 bytes in base64"));
        }
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or_else(|| refuse("this connection cannot be upgraded"))?;
        Ok(Self { key, on_upgrade })
    }
}

/// Whether `name`'s comma-separated values include `token`, in any case.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
        .any(|value| value.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

impl Upgrade {
    /// Answers 101 and, once the client's connection is switched, serves it
    /// with `serve` on a task of its own.
    pub fn serve<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        tokio::spawn(async move {
            match self.on_upgrade.await {
                Ok(upgraded) => {
                    let stream =
                        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                    serve(Socket::new(stream)).await;
                }
                Err(error) => tracing::debug!(%error, "a WebSocket upgrade failed"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let accept = HeaderValue::from_str(&accept).expect("base64 is a valid header value");
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        response
    }
}

/// A final text frame as a server sends it, unmasked (RFC 6455 §5.2): the
/// same bytes for every client.
pub fn text_frame(payload: &str) -> Bytes {
    frame(0x81, payload.as_bytes())
}

/// A ping with no payload.
pub fn ping_frame() -> Bytes {
    Bytes::from_static(&[0x89, 0x00])
}

/// A close frame with `code` and `reason`, cut to 123 bytes (a control
/// frame's payload is at most 125).
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let reason = &reason[..reason.floor_char_boundary(123)];
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    frame(0x88, &payload)
}

/// `first` (FIN and the opcode), the payload length, then the payload.
fn frame(first: u8, payload: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(first);
    match payload.len() {
        length @ 0..=125 => frame.push(length as u8),
        length @ 126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(length as u16).to_be_bytes());
        }
        length => {
            frame.push(127);
            frame.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

/// The payload of a frame [`frame`] built (what tests read back).
#[cfg(test)]
pub fn payload(frame: &[u8]) -> &[u8] {
    let start = match frame.get(1).map(|length| length & 0x7F) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    frame.get(start..).unwrap_or_default()
}

/// Most slices given to one vectored write (Linux takes up to 1,024).
const MAX_SLICES: usize = 256;

/// One client's connection: frames built once go out as they are;
/// tungstenite reads.
pub struct Socket {
    stream: WebSocketStream<TokioIo<Upgraded>>,
    /// Tungstenite read since its last flush, so it may hold bytes it has
    /// not written: it answers a ping or a close itself. Written before any
    /// frame of ours.
    read_since_flush: bool,
    /// The rest of a frame whose write was given up midway (the send limit
    /// passed): written before anything else, or the client would read the
    /// next frame's bytes as this one's.
    unfinished: Bytes,
}

impl Socket {
    fn new(stream: WebSocketStream<TokioIo<Upgraded>>) -> Self {
        Self {
            stream,
            read_since_flush: false,
            unfinished: Bytes::new(),
        }
    }

    /// The client's next message. After a write was cut the connection is
    /// only closed: tungstenite, reading, could write its answer to a ping
    /// into the middle of the cut frame.
    pub fn poll_next(&mut self, context: &mut Context<'_>) -> Poll<Option<Result<Message, tungstenite::Error>>> {
        if !self.unfinished.is_empty() {
            return Poll::Ready(None);
        }
        self.read_since_flush = true;
        self.stream.poll_next_unpin(context)
    }

    /// Writes `frames` whole, in as few system calls as the connection
    /// takes them. A write given up midway (the future dropped) leaves the
    /// socket able to write again: the rest of the frame it cut goes first.
    pub async fn write(&mut self, frames: &[Bytes]) -> io::Result<()> {
        // The cut frame first, before even tungstenite's answers: they
        // would land inside it.
        if !self.unfinished.is_empty() {
            // Cloned, not taken: were this write dropped too, the rest
            // would still be known.
            let rest = self.unfinished.clone();
            self.write_whole(std::slice::from_ref(&rest)).await?;
        }
        if self.read_since_flush {
            self.stream.flush().await.map_err(io::Error::other)?;
            self.read_since_flush = false;
        }
        self.write_whole(frames).await
    }

    /// Writes what tungstenite holds (the answer to a close the client sent).
    pub async fn flush(&mut self) {
        self.stream.flush().await.ok();
    }

    async fn write_whole(&mut self, frames: &[Bytes]) -> io::Result<()> {
        write_frames(self.stream.get_mut(), frames, &mut self.unfinished).await
    }
}

/// Writes `frames` whole to `connection`, as few vectored writes as it
/// takes. After each write `unfinished` holds the rest of a frame it cut
/// (empty at a frame's end), for a write given up midway. Not flushed: the
/// connection is hyper's upgraded TCP stream, which buffers nothing (a TLS
/// layer in this process would need a flush here).
pub async fn write_frames(
    connection: &mut (impl AsyncWrite + Unpin),
    frames: &[Bytes],
    unfinished: &mut Bytes,
) -> io::Result<()> {
    let (mut index, mut offset) = (0, 0);
    while index < frames.len() {
        // The slices are made inside each poll, so the future keeps none
        // of them.
        let written = std::future::poll_fn(|context| {
            let count = (frames.len() - index).min(MAX_SLICES);
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            for (slot, frame) in slices.iter_mut().zip(&frames[index..index + count]) {
                *slot = IoSlice::new(frame);
            }
            slices[0] = IoSlice::new(&frames[index][offset..]);
            Pin::new(&mut *connection).poll_write_vectored(context, &slices[..count])
        })
        .await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let mut left = written;
        while left > 0 {
            let rest = frames[index].len() - offset;
            if left < rest {
                offset += left;
                break;
            }
            left -= rest;
            index += 1;
            offset = 0;
        }
        *unfinished = match offset {
            0 => Bytes::new(),
            _ => frames[index].slice(offset..),
        };
    }
    Ok(())
}

/// What tungstenite reads with: the limits of what a client may send.
/// It writes only its answers to the client's pings and close, each at once
/// (a buffer of 0), and holds at most one of them: a client that sends
/// pings and never reads cannot grow it (tungstenite keeps the newest
/// answer when the buffer is full).
pub fn config(max_message: usize, read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_ANSWER)
}

/// Room for tungstenite's answers: one control frame (at most 127 bytes).
const MAX_ANSWER: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length_in_the_form_rfc_6455_gives_for_it() {
        for (length, header) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let text = "x".repeat(length);
            let frame = text_frame(&text);
            assert_eq!(frame[0], 0x81, "final text frame");
            assert_eq!(frame.len() - length, header, "length {length}");
            assert_eq!(payload(&frame), text.as_bytes(), "length {length}");
        }
        let close = close_frame(4008, "slow consumer");
        assert_eq!(&close[..4], &[0x88, 15, 0x0F, 0xA8]);
        assert_eq!(payload(&close)[2..], *b"slow consumer");
    }

    /// A request as `headers` make it, with the upgrade hyper would attach.
    async fn upgrade(method: Method, headers: &[(&str, &str)]) -> Result<Upgrade, ApiError> {
        let mut request = axum::http::Request::builder().method(method).uri("/ws/payments");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(()).unwrap();
        let on_upgrade = hyper::upgrade::on(&mut request);
        request.extensions_mut().insert(on_upgrade);
        let (mut parts, ()) = request.into_parts();
        Upgrade::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn an_upgrade_is_taken_as_browsers_send_it_and_refused_when_it_is_not_one() {
        let key = ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        let version = ("sec-websocket-version", "13");
        // Chromium's, then Firefox's (a list, and another case).
        for (connection, upgrade_to) in [("Upgrade", "websocket"), ("keep-alive, Upgrade", "WebSocket")] {
            let headers = [("connection", connection), ("upgrade", upgrade_to), key, version];
            assert!(
                upgrade(Method::GET, &headers).await.is_ok(),
                "{connection} / {upgrade_to}"
            );
        }
        let good = [("connection", "upgrade"), ("upgrade", "websocket"), key, version];
        type Headers<'a> = Vec<(&'a str, &'a str)>;
        let refused: [(Method, Headers, &str); 6] = [
            (Method::POST, good.to_vec(), "GET"),
            (Method::GET, vec![("upgrade", "websocket"), key, version], "Connection"),
            (
                Method::GET,
                vec![("connection", "upgrade"), ("upgrade", "h2c"), key, version],
                "Upgrade",
            ),
            (
                Method::GET,
                vec![good[0], good[1], key, ("sec-websocket-version", "8")],
                "Version",
            ),
            (Method::GET, vec![good[0], good[1], version], "Key"),
            (
                Method::GET,
                vec![good[0], good[1], ("sec-websocket-key", "c2hvcnQ="), version],
                "16 bytes",
            ),
        ];
        for (method, headers, named) in refused {
            let Err(error) = upgrade(method, &headers).await else {
                panic!("taken: {headers:?}");
            };
            let response = axum::response::IntoResponse::into_response(error);
            assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED, "{headers:?}");
            // What the client should upgrade to, and the version served.
            assert_eq!(response.headers()[header::UPGRADE], "websocket");
            assert_eq!(response.headers()[header::SEC_WEBSOCKET_VERSION], "13");
            let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["code"], "websocket_required");
            assert!(body["message"].as_str().unwrap().contains(named), "{body}");
        }
    }

    #[tokio::test]
    async fn the_upgrade_is_answered_with_the_key_rfc_6455_derives() {
        let headers = [
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
        ];
        let taken = upgrade(Method::GET, &headers).await.ok().unwrap();
        let response = taken.serve(config(1024, 1024), |_| async {});
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        // RFC 6455 §1.3's example.
        assert_eq!(
            response.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(response.headers()[header::UPGRADE], "websocket");
    }

    #[test]
    fn a_close_reason_is_cut_to_what_a_control_frame_holds() {
        let long = "é".repeat(100);
        let frame = close_frame(1000, &long);
        assert_eq!(frame[1] as usize, frame.len() - 2);
        assert!(frame.len() - 2 <= 125);
        assert!(std::str::from_utf8(&payload(&frame)[2..]).is_ok(), "cut at a character");
    }
}
