//! When a live command (`monitor`, `events`) is asked to stop: Ctrl-C, or SIGTERM (a
//! service manager, `timeout`, `kill`), so that it can log off, finish its recording and
//! print its summary instead of dying mid-line.

/// Resolves on Ctrl-C or SIGTERM. If no handler can be installed it never resolves (the
/// signal then ends the process the default way) rather than stopping at once.
pub(crate) async fn requested() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                () = ctrl_c => {}
                _ = term.recv() => {}
            },
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// When a live command stops by itself (`--count`, `--duration`); without either it runs
/// until [`requested`].
#[derive(clap::Args, Debug)]
pub(crate) struct Limits {
    /// Stop after this many events.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub(crate) duration: Option<f64>,
}
