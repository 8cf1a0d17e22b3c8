//! The suite the cross-service tests run in-process: the real customers, complaints and visits
//! services on SQLite, calling each other over gRPC as in production.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod flow;
pub mod secured;

use std::path::Path;

use csops_observability::Metrics;
use csops_proto::complaints::v1 as pb;
use csops_proto::customers::v1 as cpb;
use csops_proto::customers::v1::customers_service_client::CustomersServiceClient;
use csops_runtime::Settings;
use csops_testkit::server::Running;

/// The services, running until stopped.
#[derive(Debug)]
pub struct Suite {
    pub customers: Running,
    pub complaints: Running,
    pub visits: Running,
}

impl Suite {
    /// Starts customers, then visits and complaints pointed at it (complaints also at visits),
    /// with databases under `dir`, each recording its metrics into the given registry.
    pub async fn start(
        dir: &Path,
        customers_metrics: Metrics,
        complaints_metrics: Metrics,
        visits_metrics: Metrics,
    ) -> Self {
        // Customers and visits call each other: visits' port is chosen first (the OS picks a
        // free one), so customers can be told where to send its events.
        let visits_addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let settings = Settings::for_tests(&Settings::sqlite_url(dir, "customers"));
        let config = csops_customers::Config {
            visits_url: format!("http://{visits_addr}"),
            outbox_interval: std::time::Duration::from_millis(100),
            ..csops_customers::Config::default()
        };
        let app = csops_customers::App::build_with(&settings, &config, customers_metrics)
            .await
            .unwrap();
        let customers = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });
        let mut settings = Settings::for_tests(&Settings::sqlite_url(dir, "visits"));
        settings.listen_addr = visits_addr;
        let config = csops_visits::Config::for_tests(&format!("http://{}", customers.addr), "");
        let app = csops_visits::App::build(&settings, config, visits_metrics)
            .await
            .unwrap();
        let visits = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });
        let settings = Settings::for_tests(&Settings::sqlite_url(dir, "complaints"));
        let mut config = csops_complaints::Config::for_tests(&format!("http://{}", customers.addr));
        config.visits_url = format!("http://{}", visits.addr);
        let app = csops_complaints::App::build(&settings, config, complaints_metrics)
            .await
            .unwrap();
        let complaints = Running::spawn(app.local_addr(), |stop| async move {
            app.run_until_stopped(stop).await.unwrap();
        });
        Self {
            customers,
            complaints,
            visits,
        }
    }

    /// Opens a B-tier urban customer file; returns its id.
    pub async fn create_customer(&self, name: &str, request_id: &str) -> String {
        CustomersServiceClient::connect(format!("http://{}", self.customers.addr))
            .await
            .unwrap()
            .create_customer(cpb::CreateCustomerRequest {
                customer: Some(cpb::Customer {
                    display_name: name.into(),
                    tier: cpb::CustomerTier::B as i32,
                    region: cpb::Region::Urban as i32,
                    ..Default::default()
                }),
                request_id: request_id.into(),
                actor_id: "agent-1".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .customer
            .unwrap()
            .id
    }

    /// Stops complaints, visits, then customers.
    pub async fn stop(self) {
        self.complaints.stop().await;
        self.visits.stop().await;
        self.customers.stop().await;
    }
}

/// A complaint request an agent would send for `customer_id`.
pub fn complaint_request(
    customer_id: &str,
    title: &str,
    request_id: &str,
) -> pb::CreateComplaintRequest {
    pb::CreateComplaintRequest {
        complaint: Some(pb::Complaint {
            customer_id: customer_id.into(),
            title: title.into(),
            nature: pb::ComplaintNature::ProductQuality as i32,
            severity: pb::Severity::Medium as i32,
            channel: pb::Channel::Hotline as i32,
            ..Default::default()
        }),
        request_id: request_id.into(),
        actor: Some(pb::Actor {
            id: "agent-1".into(),
            role: pb::ActorRole::Agent as i32,
        }),
    }
}
