//! The tracing subscriber: `RUST_LOG` filters (default `info`), plain or JSON
//! lines on stderr.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

use crate::config::LogFormat;

/// Install the global subscriber. Calling it twice is harmless.
pub fn init(format: LogFormat) {
    init_with_default(format, "info,sqlx=warn");
}

/// [`init`] with another filter when `RUST_LOG` is not set (the demo keeps
/// the terminal for its own output and shows only warnings).
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
