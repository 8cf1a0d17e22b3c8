//! Cross-service tests: the suite on random ports, real PostgreSQL, real grpcurl.
#![forbid(unsafe_code)]
