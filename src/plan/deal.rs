//! Dealing the plan's instruments over the apps' sockets.

use super::{PlanError, Planned, SocketPlan};

/// Deals `instruments` over the sockets of `apps` (at most `per_app` each, `per_socket`
/// instruments each), using every socket allowed so that one socket's failure touches as few
/// instruments as possible.
pub fn deal(
    instruments: &[Planned],
    apps: &[String],
    per_app: usize,
    per_socket: usize,
) -> Result<Vec<SocketPlan>, PlanError> {
    if apps.is_empty() {
        return Err(PlanError::NoApps);
    }
    if instruments.is_empty() {
        return Err(PlanError::Empty);
    }
    let capacity = apps.len() * per_app * per_socket;
    if instruments.len() > capacity {
        return Err(PlanError::TooMany {
            instruments: instruments.len(),
            apps: apps.len(),
            per_app,
            per_socket,
            capacity,
        });
    }
    let sockets = (apps.len() * per_app).min(instruments.len());
    let mut plans: Vec<SocketPlan> = (0..sockets)
        .map(|i| SocketPlan {
            number: i as u16 + 1,
            // Socket i belongs to app i / per_app: app 1's sockets first.
            app: apps[i / per_app].clone(),
            tokens: Vec::new(),
        })
        .collect();
    for (i, p) in instruments.iter().enumerate() {
        plans[i % sockets]
            .tokens
            .push((p.row.instrument_token, p.mode));
    }
    Ok(plans)
}
