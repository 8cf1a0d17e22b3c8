//! Protobuf contracts of the csops services: generated messages, clients and servers.
#![forbid(unsafe_code)]
#![allow(
    unreachable_pub,
    missing_debug_implementations,
    clippy::large_enum_variant
)]

/// File descriptor set of every csops proto (with comments), served through gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/csops_descriptor.bin"));

/// `csops.customers.v1`: the customer file.
pub mod customers {
    /// Version 1 of the customers API.
    pub mod v1 {
        tonic::include_proto!("csops.customers.v1");
    }
}

/// `csops.complaints.v1`: complaints, their lifecycle, SLA clocks, promises and compensation.
pub mod complaints {
    /// Version 1 of the complaints API.
    pub mod v1 {
        tonic::include_proto!("csops.complaints.v1");
    }
}

/// `csops.visits.v1`: visit plans, care events, visits and on-site field jobs.
pub mod visits {
    /// Version 1 of the visits API.
    pub mod v1 {
        tonic::include_proto!("csops.visits.v1");
    }
}

/// `csops.feedback.v1`: callbacks, SERVQUAL surveys, process indicators and churn-risk signals.
pub mod feedback {
    /// Version 1 of the feedback API.
    pub mod v1 {
        tonic::include_proto!("csops.feedback.v1");
    }
}

/// `csops.audit.v1`: who did what to which record, served by every csops service.
pub mod audit {
    /// Version 1 of the audit API.
    pub mod v1 {
        tonic::include_proto!("csops.audit.v1");
    }
}
