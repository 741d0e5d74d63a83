//! Logging: one place that decides filter and format.
//!
//! Logs go to stderr (stdout belongs to commands such as `decode` that print data). `RUST_LOG`,
//! when set, replaces the configured filter; the format is plain text for a terminal or JSON
//! lines for journald. Structured fields first, sentences second; INFO for lifecycle, WARN for
//! recovered surprises, ERROR for data at risk.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

use crate::settings::LogFormat;

/// Log timestamps in IST with the offset, to the millisecond (`2026-11-27T09:15:00.250+05:30`),
/// the same as every other timestamp tickvault shows: a log line and a status report of one
/// moment read alike.
struct IstTime;

impl FormatTime for IstTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&crate::calendar::ist_rfc3339(chrono::Utc::now()))
    }
}

/// Installs the global subscriber. `rust_log` is the value of `RUST_LOG`, if set (it wins over
/// `filter`). Returns an error if a subscriber is already installed or the filter is invalid.
pub fn init(filter: &str, rust_log: Option<&str>, format: LogFormat) -> anyhow::Result<()> {
    let (origin, directives) = match rust_log.filter(|s| !s.trim().is_empty()) {
        Some(env) => ("RUST_LOG", env),
        None => ("log.filter", filter),
    };
    let filter = EnvFilter::try_new(directives)
        .map_err(|e| anyhow::anyhow!("invalid setting `{origin}`: {e} in {directives:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_timer(IstTime)
        .with_target(true);
    let result = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}
