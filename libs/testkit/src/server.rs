//! A server running inside the test process until the test stops it (or drops the handle).

use std::future::Future;
use std::net::SocketAddr;

use tokio::sync::oneshot;

/// A server task and the means to stop it.
#[derive(Debug)]
pub struct Running {
    /// Where the server listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Spawns `serve`, handing it a future that completes when [`Running::stop`] is called or
    /// the handle is dropped. Typically `|stop| app.run_until_stopped(stop)` with the result
    /// unwrapped.
    pub fn spawn<S, F>(addr: SocketAddr, serve: S) -> Self
    where
        S: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let signal = Box::pin(async move {
            let _ = stopped.await;
        });
        Self {
            addr,
            stop: Some(stop),
            done: Some(tokio::spawn(serve(signal))),
        }
    }

    /// Stops the server and waits until it has drained.
    ///
    /// # Panics
    /// When the server task panicked.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await
                .unwrap_or_else(|e| panic!("server task failed: {e}"));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
