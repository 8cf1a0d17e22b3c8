//! The customers service: the customer service file behind a gRPC API.
#![forbid(unsafe_code)]
