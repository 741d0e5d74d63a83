//! The market clock of the simulator: every slice it moves the underlyings, trades each
//! subscribed instrument that is due (`rate` times a second, spread evenly by a per-token phase)
//! and broadcasts the updated ticks to every connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::state::{SimState, lock};

/// Slices per second for `rate` updates per instrument per second.
pub fn slices_per_second(rate: f64) -> u32 {
    (rate.ceil() as u32).max(10)
}

/// Whether an instrument with `phase` (0..1) trades in slice `slice`.
pub fn due(rate: f64, slices_per_sec: u32, phase: f64, slice: u64) -> bool {
    let per_slice = rate / f64::from(slices_per_sec);
    let before = (per_slice * slice as f64 + phase).floor();
    let after = (per_slice * (slice + 1) as f64 + phase).floor();
    after > before
}

/// A token's phase: spreads instruments evenly over the slices of a second.
pub fn phase(token: u32) -> f64 {
    f64::from(token.wrapping_mul(2_654_435_761) % 1000) / 1000.0
}

/// Runs until `stop` changes.
pub async fn run(state: Arc<SimState>, mut stop: watch::Receiver<bool>) {
    let rate = state.config.rate;
    let slices = slices_per_second(rate);
    let dt = Duration::from_secs_f64(1.0 / f64::from(slices));
    let mut interval = tokio::time::interval(dt);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut slice: u64 = 0;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        let active = state.active_tokens();
        let now = state.clock.now_secs();
        let batch: Vec<_> = {
            let mut market = lock(&state.market);
            market.advance(dt.as_secs_f64());
            active
                .iter()
                .filter(|t| due(rate, slices, phase(**t), slice))
                .filter_map(|t| market.update(*t, now))
                .collect()
        };
        slice += 1;
        if !batch.is_empty() {
            // No receivers is fine: nobody is connected.
            let _ = state.feed.send(Arc::new(batch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_instrument_trades_rate_times_a_second() {
        for rate in [0.5, 1.0, 2.0, 7.0, 25.0] {
            let slices = slices_per_second(rate);
            for token in [256_265u32, 408_065, 12_345_678] {
                let p = phase(token);
                let n = (0..u64::from(slices) * 10)
                    .filter(|s| due(rate, slices, p, *s))
                    .count();
                assert_eq!(n as f64, rate * 10.0, "rate {rate}, token {token}");
            }
        }
    }
}
