//! How `nbgen test` shows its work on stderr: the notes of the library as lines, and on a terminal
//! a spinner per running entry and a bar per download (indicatif draws nothing elsewhere, so CI
//! logs hold the lines only).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use nbgen::nbtest::{Download, Note};

/// The bars on screen, by entry name and by download source.
pub struct Screen {
    multi: MultiProgress,
    entries: Mutex<HashMap<String, ProgressBar>>,
    downloads: Mutex<HashMap<String, ProgressBar>>,
}

impl Screen {
    pub fn new() -> Screen {
        Screen {
            multi: MultiProgress::new(),
            entries: Mutex::new(HashMap::new()),
            downloads: Mutex::new(HashMap::new()),
        }
    }

    /// Shows one note: a progress note moves a bar, any other note is a line above the bars.
    pub fn show(&self, note: Note, line: impl Fn(Note) -> String) {
        match note {
            Note::EntryPhase { entry, phase } => {
                let mut bars = self.entries.lock().unwrap();
                let bar = bars
                    .entry(entry.to_string())
                    .or_insert_with(|| self.entry_bar(entry));
                bar.set_message(phase.to_string());
            }
            Note::EntryDone { entry, status } => {
                if let Some(bar) = self.entries.lock().unwrap().remove(entry) {
                    bar.finish_with_message(status.as_str());
                }
            }
            Note::Download { source, event } => self.download(source, event),
            other => {
                let text = line(other);
                // Printed with the bars out of the way, so neither garbles the other.
                self.multi.suspend(|| eprintln!("nbgen test: {text}"));
            }
        }
    }

    fn entry_bar(&self, entry: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_prefix(entry.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    fn download(&self, source: &str, event: Download) {
        let mut bars = self.downloads.lock().unwrap();
        let bar = bars
            .entry(source.to_string())
            .or_insert_with(|| self.download_bar(source));
        match event {
            Download::Started { have, total } => {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(have);
                bar.set_message(short_name(source));
            }
            Download::Received(n) => bar.inc(n),
            Download::Retrying { wait, why } => {
                bar.set_message(format!("{} (retry in {wait:?}: {why})", short_name(source)));
            }
            Download::Ended { complete } => {
                if complete {
                    bar.finish_and_clear();
                } else {
                    bar.abandon();
                }
                bars.remove(source);
            }
        }
    }

    fn download_bar(&self, source: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(short_name(source));
        bar
    }
}

/// The last path segment of a URL or path, for a bar's label.
fn short_name(source: &str) -> String {
    source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(source)
        .to_string()
}
