//! The tracing subscriber: `RUST_LOG` filters (default `info`), plain or JSON
//! lines on stderr.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::config::LogFormat;

/// Install the global subscriber. Calling it twice is harmless.
pub fn init(format: LogFormat) {
    init_with_default(format, "info,sqlx=warn");
}

/// [`init`] with another filter when `RUST_LOG` is not set (the demo keeps
/// the terminal for its own output and shows only warnings).
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    install(format, default_filter, false);
}

/// SQL statements executed since the process started, counted only when the
/// subscriber was installed by [`init_counting_sql`] (the benchmarks).
pub static SQL_STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// [`init_with_default`] plus a count of every SQL statement (sqlx reports
/// each one as a `sqlx::query` event) in [`SQL_STATEMENTS`]. The events are
/// counted, not printed.
pub fn init_counting_sql(format: LogFormat, default_filter: &str) {
    install(format, default_filter, true);
}

/// Counts `sqlx::query` events.
struct CountSql;

impl<S: tracing::Subscriber> Layer<S> for CountSql {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        SQL_STATEMENTS.fetch_add(1, Ordering::Relaxed);
    }
}

fn install(format: LogFormat, default_filter: &str, count_sql: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt_layer = fmt::layer().with_writer(std::io::stderr);
    let fmt_layer = match format {
        LogFormat::Plain => fmt_layer.boxed(),
        LogFormat::Json => fmt_layer.json().flatten_event(true).boxed(),
    };
    let counter = count_sql.then(|| {
        CountSql.with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::DEBUG),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(counter)
        .try_init();
}
