//! Logging setup. Fields are ids and outcomes; code never logs names, note
//! text, passwords, tokens or cookies.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_current_span(true).with_span_list(false))
            .try_init(),
        // Colour codes only for a person at a terminal: in a file, a pipe or
        // a log collector they are noise. The layer writes to standard output.
        LogFormat::Pretty => registry.with(fmt::layer().compact().with_ansi(colour(std::io::stdout().is_terminal()))).try_init(),
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}

/// Colour on a terminal, unless `NO_COLOR` (<https://no-color.org>) is set.
fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
