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

impl Limits {
    /// `--duration` as a `Duration`. A negative, NaN, infinite or too large number is an
    /// error to show the user (`Duration::from_secs_f64` would panic on it).
    pub(crate) fn time_limit(&self) -> Result<Option<std::time::Duration>, String> {
        self.duration
            .map(|d| {
                std::time::Duration::try_from_secs_f64(d)
                    .map_err(|_| format!("--duration must be a number of seconds, not {d}"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::Limits;

    #[test]
    fn a_duration_that_is_no_time_is_an_error_not_a_panic() {
        let limit = |d: f64| Limits { count: None, duration: Some(d) }.time_limit();
        assert_eq!(limit(1.5), Ok(Some(std::time::Duration::from_millis(1500))));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e30] {
            assert!(limit(bad).is_err(), "{bad}");
        }
        assert_eq!(Limits { count: None, duration: None }.time_limit(), Ok(None));
    }
}
