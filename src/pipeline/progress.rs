//! A progress line on stderr (documents/s, MB/s), shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    step: &'static str,
    started: Instant,
    docs: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    pub fn new(step: &'static str, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .expect("a valid template"),
            );
            bar
        });
        Progress {
            bar,
            step,
            started: Instant::now(),
            docs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub fn advance(&self, docs: usize, bytes: usize) {
        let docs = self.docs.fetch_add(docs as u64, Ordering::Relaxed) + docs as u64;
        let bytes = self.bytes.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{}: {docs} documents, {:.1} MB ({:.0} docs/s, {:.1} MB/s)",
                self.step,
                bytes as f64 / 1e6,
                docs as f64 / secs,
                bytes as f64 / 1e6 / secs
            ));
            bar.tick();
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
