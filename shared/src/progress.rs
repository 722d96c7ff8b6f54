//! Progress bars with rate and ETA, quiet when not on a terminal or under tests.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` steps with a message, the rate (`unit`/s) and the ETA.
pub fn bar(len: u64, what: &str, unit: &str) -> ProgressBar {
    let pb = if std::env::var_os("REPRO_QUIET").is_some() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    let template = format!("{{msg:>14}} [{{bar:30}}] {{pos}}/{{len}} {{per_sec:>12}} {unit} eta {{eta}} {{prefix}}");
    pb.set_style(ProgressStyle::with_template(&template).unwrap().progress_chars("=> "));
    pb.set_message(what.to_string());
    pb
}
