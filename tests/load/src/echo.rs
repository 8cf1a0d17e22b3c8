//! The bare unary echo server: tonic with no work behind the call, the gRPC limit of the
//! machine that every scenario is compared with.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// Generated code of the private echo proto.
#[allow(unreachable_pub, missing_debug_implementations, clippy::unwrap_used)]
pub mod pb {
    tonic::include_proto!("csops.load.echo.v1");
}

use pb::echo_service_server::{EchoService, EchoServiceServer};

/// Payload size of the baseline, close to a small real request.
pub const PAYLOAD_BYTES: usize = 300;

/// Echoes payloads, or fails with the code a request asks for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(
        &self,
        request: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        let pb::EchoRequest { payload, fail_code } = request.into_inner();
        if fail_code != 0 {
            return Err(Status::new(Code::from(fail_code), "failure requested"));
        }
        Ok(Response::new(pb::EchoResponse { payload }))
    }
}

/// Serves an echo service (the bare [`Echo`], or the read limits of [`crate::pk`]) on
/// `listener` until `stop` completes, with TCP_NODELAY as the csops services have it.
pub async fn serve(
    listener: TcpListener,
    service: impl EchoService,
    stop: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(EchoServiceServer::new(service))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), stop)
        .await
}

/// Binds `addr` (port 0 picks a free port) and returns the listener and its address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
