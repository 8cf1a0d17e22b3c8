//! Admission: a server works on at most a fixed number of calls at once and refuses the rest
//! at the door, instead of queueing them until their callers give up.
//!
//! A call that finds every slot taken is answered RESOURCE_EXHAUSTED "server overloaded" at
//! once, without reaching the service: its caller learns in microseconds that it should back
//! off or try another replica, and the server's memory stays bounded (the calls it holds, not
//! the calls offered). Health and reflection are never refused: a saturated service is busy,
//! not dead, and Kubernetes must not restart it for that.
//!
//! A slot is held until the call's response starts: for a unary call that is all its work,
//! for a server stream (WatchSlaEvents) its set-up; the stream itself then runs outside.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_layer::Layer;
use tower_service::Service;

/// The message of a refused call.
pub const OVERLOADED: &str = "server overloaded: too many calls in progress, retry with backoff";

/// Paths that are always admitted: probes and tooling.
const ALWAYS_ADMITTED: [&str; 2] = ["/grpc.health.v1.Health/", "/grpc.reflection."];

/// The layer: at most `limit` calls at once across every connection of the server.
#[derive(Debug, Clone)]
pub struct AdmissionLayer {
    slots: Arc<Semaphore>,
}

impl AdmissionLayer {
    /// Admits at most `limit` calls at once (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    /// How many more calls would be admitted now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = AdmissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdmissionService {
            inner,
            slots: self.slots.clone(),
        }
    }
}

/// The service [`AdmissionLayer`] makes.
#[derive(Debug, Clone)]
pub struct AdmissionService<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

impl<S, B> Service<http::Request<B>> for AdmissionService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AdmissionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        if ALWAYS_ADMITTED
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            return AdmissionFuture::Admitted {
                inner: self.inner.call(request),
                slot: None,
            };
        }
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => AdmissionFuture::Admitted {
                inner: self.inner.call(request),
                slot: Some(slot),
            },
            Err(_) => {
                tracing::debug!(path, "call refused: server overloaded");
                AdmissionFuture::Refused {
                    response: Some(tonic::Status::resource_exhausted(OVERLOADED).into_http()),
                }
            }
        }
    }
}

pin_project! {
    /// The response future of [`AdmissionService`].
    #[project = AdmissionProj]
    #[derive(Debug)]
    pub enum AdmissionFuture<F> {
        /// The call runs, holding its slot until its response starts.
        Admitted {
            #[pin]
            inner: F,
            slot: Option<OwnedSemaphorePermit>,
        },
        /// The call was refused.
        Refused {
            response: Option<http::Response<tonic::body::Body>>,
        },
    }
}

impl<F, E> Future for AdmissionFuture<F>
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AdmissionProj::Admitted { inner, slot } => {
                let output = std::task::ready!(inner.poll(cx));
                drop(slot.take());
                Poll::Ready(output)
            }
            AdmissionProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::convert::Infallible;

    fn code(response: &http::Response<tonic::body::Body>) -> Option<i32> {
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().parse().unwrap())
    }

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).unwrap()
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_are_refused_at_once_and_health_never() {
        // Calls wait at a gate that opens when the test says so.
        let gate = Arc::new(Semaphore::new(0));
        let layer = AdmissionLayer::new(2);
        let waiting = gate.clone();
        let service = layer.layer(tower::service_fn(move |_request: http::Request<()>| {
            let waiting = waiting.clone();
            async move {
                let _ = waiting.acquire().await;
                Ok::<_, Infallible>(http::Response::new(tonic::body::Body::empty()))
            }
        }));
        let path = "/csops.customers.v1.CustomersService/GetCustomer";
        // `call` takes the slot before the future is polled.
        let held: Vec<_> = (0..2)
            .map(|_| tokio::spawn(service.clone().call(request(path))))
            .collect();
        assert_eq!(layer.available(), 0);

        // The refusal needs no slot and no wait: it is ready on its first poll.
        let refused = futures_util::FutureExt::now_or_never(service.clone().call(request(path)))
            .expect("a refused call answers without waiting")
            .unwrap();
        assert_eq!(code(&refused), Some(tonic::Code::ResourceExhausted as i32));

        // Probes get through a full server.
        let probe = tokio::spawn(
            service
                .clone()
                .call(request("/grpc.health.v1.Health/Check")),
        );
        gate.add_permits(1);
        for call in held {
            assert_eq!(code(&call.await.unwrap().unwrap()), None);
        }
        assert_eq!(code(&probe.await.unwrap().unwrap()), None);
        assert_eq!(layer.available(), 2, "slots come back when calls answer");
    }
}
