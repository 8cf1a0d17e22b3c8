//! Servers the load tool can start inside its own process: the echo baseline and the services.

use std::net::SocketAddr;

use anyhow::Context as _;
use csops_observability::Metrics;
use csops_runtime::Settings;
use tokio::sync::oneshot;

/// A server running in this process; dropping it stops the server.
#[derive(Debug)]
pub struct InProcess {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl InProcess {
    /// Returns the `http://` URL of the server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Starts the echo server on a free 127.0.0.1 port.
pub async fn echo() -> anyhow::Result<InProcess> {
    let (listener, addr) = crate::echo::bind(loopback()).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(crate::echo::serve(
        listener,
        crate::echo::Echo,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(InProcess {
        addr,
        stop: Some(stop),
    })
}

/// Starts the customers service on a free 127.0.0.1 port over `database_url`.
pub async fn customers(database_url: &str, max_connections: u32) -> anyhow::Result<InProcess> {
    let mut settings = Settings::for_tests(database_url);
    settings.database.max_connections = max_connections;
    let app = csops_customers::App::build(&settings, Metrics::new())
        .await
        .context("cannot start the customers service")?;
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Ok(InProcess {
        addr,
        stop: Some(stop),
    })
}
