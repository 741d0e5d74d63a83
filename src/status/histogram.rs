//! Histograms kept on the status board (rendered by [`crate::metrics`]).

/// A histogram kept on the status board: its metric name, help and bucket bounds.
#[derive(Debug)]
pub struct HistogramSpec {
    /// The metric's name.
    pub name: &'static str,
    /// Its `# HELP`.
    pub help: &'static str,
    /// Bucket upper bounds, ascending (`+Inf` is implicit).
    pub buckets: &'static [f64],
}

/// Rows per committed batch.
pub const BATCH_ROWS: HistogramSpec = HistogramSpec {
    name: "tickvault_persister_batch_rows",
    help: "Rows per committed batch.",
    buckets: &[
        1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 25000.0,
    ],
};

/// Time to commit one batch.
pub const COMMIT_SECONDS: HistogramSpec = HistogramSpec {
    name: "tickvault_persister_commit_seconds",
    help: "Time to commit one batch.",
    buckets: &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ],
};

/// A cumulative histogram with fixed bucket bounds (the last bucket, `+Inf`, is implicit).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations ≤ each bound (not cumulative here; summed when rendered).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts one observation.
    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    /// Bucket upper bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Observations per bucket (not cumulative).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.count
    }
}
