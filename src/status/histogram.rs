//! The histograms kept on the status board (rendered by [`crate::metrics`]): names, help and
//! bucket bounds.

/// A histogram kept on the status board: its metric name (without `_bucket` etc.), help and
/// bucket bounds.
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
