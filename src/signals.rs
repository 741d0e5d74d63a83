//! The process's signals: SIGINT/SIGTERM stop it, SIGUSR1 asks for the status report.

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_stop() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Runs `action` on every SIGUSR1 (on the current actix system). Install it early: SIGUSR1's
/// default action ends the process.
pub fn on_sigusr1(action: impl Fn() + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::user_defined1()) {
        Ok(mut usr1) => {
            actix_rt::spawn(async move {
                while usr1.recv().await.is_some() {
                    action();
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot listen for SIGUSR1; status dumps are off"),
    }
}
