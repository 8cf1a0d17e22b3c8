//! The process-wide stop signal: SIGTERM (Kubernetes) or SIGINT (Ctrl-C).

use std::future::Future;

/// Starts listening for SIGTERM and SIGINT at once and returns a future that completes when
/// either arrives. Call it first thing in `main`: a signal that arrives while the services are
/// still starting then stops them gracefully instead of killing the process.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match streams {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("received SIGTERM, shutting down"),
                    _ = int.recv() => tracing::info!("received SIGINT, shutting down"),
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot listen for stop signals; stop with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("received Ctrl-C, shutting down");
        }
    }
}
