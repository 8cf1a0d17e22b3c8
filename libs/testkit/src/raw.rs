//! Any RPC of any csops service, called with raw bytes: the contract's method list (from the
//! compiled descriptor set) and a client that sends a message's bytes as they are. The tests
//! that walk every RPC (roles, bad input) use it, so a new RPC is walked without a new line.

use bytes::{Buf as _, BufMut as _};
use prost::Message as _;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// One RPC of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// The method's name, e.g. `GetCustomer`.
    pub name: String,
    /// The HTTP/2 path, e.g. `/csops.customers.v1.CustomersService/GetCustomer`.
    pub path: String,
    /// The request message's fully qualified name, e.g. `.csops.customers.v1.GetCustomerRequest`.
    pub input: String,
    /// True when the server answers with a stream.
    pub server_streaming: bool,
}

/// Every RPC of `grpc_service` (e.g. `csops.customers.v1.CustomersService`), in contract order.
pub fn methods(grpc_service: &str) -> Vec<Method> {
    let set = prost_types::FileDescriptorSet::decode(csops_proto::FILE_DESCRIPTOR_SET)
        .expect("the compiled descriptor set decodes");
    let (package, service) = grpc_service
        .rsplit_once('.')
        .expect("a qualified service name");
    set.file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.service.iter())
        .filter(|s| s.name() == service)
        .flat_map(|s| s.method.iter())
        .map(|m| Method {
            name: m.name().to_owned(),
            path: format!("/{grpc_service}/{}", m.name()),
            input: m.input_type().to_owned(),
            server_streaming: m.server_streaming(),
        })
        .collect()
}

/// Calls `method` with `body` (a serialized request, possibly malformed on purpose) and
/// `headers`; returns the answer's bytes (for a stream: its first message, or nothing when it
/// opened without one yet) or its status.
pub async fn call(
    channel: Channel,
    method: &Method,
    body: Vec<u8>,
    headers: &[(&'static str, String)],
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("not ready: {e}")))?;
    let mut request = Request::new(body);
    for (name, value) in headers {
        request.metadata_mut().insert(
            *name,
            value.parse().map_err(|_| Status::internal("bad header"))?,
        );
    }
    let path = method
        .path
        .parse()
        .map_err(|_| Status::internal("bad path"))?;
    if method.server_streaming {
        let response = grpc.server_streaming(request, path, RawCodec).await?;
        let mut stream = response.into_inner();
        // The stream opened: the call passed every check at its start. Take a first message
        // only if one is there at once.
        match tokio::time::timeout(std::time::Duration::from_millis(200), stream.message()).await {
            Ok(Ok(Some(first))) => Ok(first),
            Ok(Ok(None)) | Err(_) => Ok(Vec::new()),
            Ok(Err(status)) => Err(status),
        }
    } else {
        grpc.unary(request, path, RawCodec)
            .await
            .map(tonic::Response::into_inner)
    }
}

/// Sends and receives message bytes unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0u8; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
