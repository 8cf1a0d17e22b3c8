//! What every csops server does at the HTTP/2 edge, below the services: ends open streams
//! cleanly when the server stops, and answers transport-level failures with the status gRPC's
//! table gives them, without echoing the decoder's view of the input.
//!
//! - **Streams end on a stop.** A server stream (WatchSlaEvents, Health/Watch) would otherwise
//!   keep its connection, and so the graceful stop, open until the grace period runs out. Once
//!   the listener closes, every response still waiting for its next message ends with
//!   UNAVAILABLE "server shutting down" (retryable: the client reconnects to another replica).
//!   A response that has its next frame ready is never cut, so unary calls finish as usual.
//! - **An oversize message is RESOURCE_EXHAUSTED** (tonic answers OUT_OF_RANGE).
//! - **An undecodable message is INVALID_ARGUMENT "cannot decode the request"**, without the
//!   decoder's field paths. gRPC's table says INTERNAL for a request that does not parse, but
//!   the bytes are the caller's: INTERNAL would page the operators (the server-error alert
//!   counts it) for a client's garbage, and tell the client to retry what can never succeed.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::HeaderValue;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower_layer::Layer;
use tower_service::Service;

/// The message a stream cut by a stop ends with.
pub const SHUTTING_DOWN: &str = "server shutting down";

/// What tonic says when a message exceeds the decoding limit (it answers OUT_OF_RANGE).
const TOO_LARGE_PREFIX: &str = "Error, decoded message length too large";
/// What tonic says when a request does not decode (it adds prost's field path).
const UNDECODABLE_PREFIX: &str = "failed to decode Protobuf message";
const UNDECODABLE_MESSAGE: &str = "cannot decode the request";

/// The layer: `stop` is cancelled when the server stops accepting calls.
#[derive(Debug, Clone)]
pub struct EdgeLayer {
    stop: CancellationToken,
}

impl EdgeLayer {
    /// Streams end when `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Self {
        Self { stop }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EdgeService {
            inner,
            stop: self.stop.clone(),
        }
    }
}

/// The service [`EdgeLayer`] makes.
#[derive(Debug, Clone)]
pub struct EdgeService<S> {
    inner: S,
    stop: CancellationToken,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for EdgeService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<EdgeBody<ResBody>>;
    type Error = S::Error;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        EdgeFuture {
            inner: self.inner.call(request),
            stop: Some(self.stop.clone()),
        }
    }
}

pin_project! {
    /// The response future of [`EdgeService`].
    #[derive(Debug)]
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        stop: Option<CancellationToken>,
    }
}

impl<F, B, E> Future for EdgeFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<EdgeBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        // A trailers-only response (how tonic answers a request it cannot decode) carries
        // its status in the headers.
        restate(response.headers_mut());
        let stop = this.stop.take().unwrap_or_default();
        Poll::Ready(Ok(response.map(|body| EdgeBody::new(body, stop))))
    }
}

pin_project! {
    /// A response body that ends with UNAVAILABLE when the server stops while it waits for
    /// its next frame.
    pub struct EdgeBody<B> {
        #[pin]
        inner: B,
        #[pin]
        stopped: WaitForCancellationFutureOwned,
        done: bool,
    }
}

impl<B> std::fmt::Debug for EdgeBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<B> EdgeBody<B> {
    fn new(inner: B, stop: CancellationToken) -> Self {
        Self {
            inner,
            stopped: stop.cancelled_owned(),
            done: false,
        }
    }
}

impl<B: Body> Body for EdgeBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(mut frame))) => {
                if let Some(trailers) = frame.trailers_mut() {
                    restate(trailers);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                ready!(this.stopped.poll(cx));
                *this.done = true;
                Poll::Ready(Some(Ok(Frame::trailers(shutting_down()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.done {
            SizeHint::with_exact(0)
        } else {
            self.inner.size_hint()
        }
    }
}

/// The trailers of a stream cut by a stop.
fn shutting_down() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert(
        "grpc-status",
        HeaderValue::from(tonic::Code::Unavailable as i32),
    );
    if let Ok(message) = HeaderValue::from_str(&percent_encode(SHUTTING_DOWN)) {
        trailers.insert("grpc-message", message);
    }
    trailers
}

/// Rewrites the status tonic's transport gives an oversize or undecodable message.
fn restate(headers: &mut HeaderMap) {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from);
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let (code, message) = match code {
        Some(tonic::Code::OutOfRange) if message.starts_with(TOO_LARGE_PREFIX) => (
            tonic::Code::ResourceExhausted,
            // tonic's own sentence names the size and the limit, nothing of the content.
            message,
        ),
        Some(tonic::Code::Internal) if message.starts_with(UNDECODABLE_PREFIX) => {
            (tonic::Code::InvalidArgument, UNDECODABLE_MESSAGE.to_owned())
        }
        _ => return,
    };
    headers.insert("grpc-status", HeaderValue::from(code as i32));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(&message)) {
        headers.insert("grpc-message", value);
    }
}

/// gRPC's percent-decoding of `grpc-message`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// gRPC's percent-encoding of `grpc-message`: printable ASCII except `%` stays.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(code: tonic::Code, message: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from(code as i32));
        h.insert(
            "grpc-message",
            HeaderValue::from_str(&percent_encode(message)).unwrap(),
        );
        h
    }

    fn status(h: &HeaderMap) -> (i32, String) {
        (
            h["grpc-status"].to_str().unwrap().parse().unwrap(),
            percent_decode(h["grpc-message"].to_str().unwrap()),
        )
    }

    #[test]
    fn an_oversize_message_becomes_resource_exhausted() {
        let mut h = headers(
            tonic::Code::OutOfRange,
            "Error, decoded message length too large: found 5242885 bytes, the limit is: 4194304 bytes",
        );
        restate(&mut h);
        let (code, message) = status(&h);
        assert_eq!(code, tonic::Code::ResourceExhausted as i32);
        assert!(message.contains("4194304"), "{message}");
    }

    #[test]
    fn an_undecodable_message_loses_the_decoders_field_paths() {
        let mut h = headers(
            tonic::Code::Internal,
            "failed to decode Protobuf message: CreateComplaintRequest.complaint: invalid wire type",
        );
        restate(&mut h);
        assert_eq!(
            status(&h),
            (
                tonic::Code::InvalidArgument as i32,
                UNDECODABLE_MESSAGE.to_owned()
            )
        );
    }

    #[test]
    fn other_statuses_are_left_alone() {
        for (code, message) in [
            (tonic::Code::OutOfRange, "page beyond the end"),
            (tonic::Code::Internal, "storage failed"),
            (
                tonic::Code::InvalidArgument,
                "Error, decoded message length too large",
            ),
        ] {
            let mut h = headers(code, message);
            restate(&mut h);
            assert_eq!(status(&h), (code as i32, message.to_owned()));
        }
    }

    #[test]
    fn percent_coding_round_trips_and_keeps_printable_ascii() {
        for text in ["plain text", "100% 満足\n", "%zz", "%"] {
            assert_eq!(percent_decode(&percent_encode(text)), text);
        }
        assert_eq!(percent_encode("a b"), "a b");
        assert_eq!(percent_decode("server%20shutting%20down"), SHUTTING_DOWN);
    }
}
