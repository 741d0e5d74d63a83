//! `[export]`: the files `tickvault export` writes, and whether the service writes them itself
//! after each verified end of day.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Apache Parquet (zstd).
    #[default]
    Parquet,
    /// Comma-separated values (a header line; gzip with `--gzip`).
    Csv,
}

/// `[export]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    /// Export each day right after a verified end of day.
    pub after_eod: bool,
    /// Where (empty: `<data_dir>/export/ticks`, or `ticks_csv`).
    pub dir: PathBuf,
    /// `parquet` or `csv`.
    pub format: ExportFormat,
}

impl ExportSettings {
    /// The directory the `date=…` directories go in.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        if !self.dir.as_os_str().is_empty() {
            return self.dir.clone();
        }
        let dataset = match self.format {
            ExportFormat::Parquet => "ticks",
            ExportFormat::Csv => "ticks_csv",
        };
        data_dir.join("export").join(dataset)
    }
}
