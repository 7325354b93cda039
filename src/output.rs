//! The only module that writes to the terminal. stdout carries what the user asked for (a table, a
//! plan, or with `--json` exactly one JSON document); stderr carries notes, warnings and errors.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::error::Error;
use crate::size::human;

#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
    pub progress: ProgressStyle,
}

/// How long operations show progress on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressStyle {
    /// An indicatif bar (a terminal, no `--no-progress`).
    Bar,
    /// A plain line every few seconds (stderr is not a terminal).
    Lines,
    /// JSON lines (`--json`).
    Json,
    /// Nothing (`--quiet`, `--no-progress`).
    #[default]
    Off,
}

impl Printer {
    /// Colour and bars only on a terminal, and colour never with `NO_COLOR` set.
    pub fn new(json: bool, quiet: bool, verbose: bool, no_progress: bool, no_color_env: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let color = !no_color_env && !json && terminal;
        let progress = match () {
            () if quiet || no_progress => ProgressStyle::Off,
            () if json => ProgressStyle::Json,
            () if terminal => ProgressStyle::Bar,
            () => ProgressStyle::Lines,
        };
        Self { json, quiet, verbose, color, progress }
    }

    /// A progress reporter for downloads, in this printer's style.
    pub fn download_progress(&self) -> DownloadProgress {
        DownloadProgress {
            style: self.progress,
            printer: *self,
            file: String::new(),
            total: 0,
            start: 0,
            began: None,
            last: None,
            bar: None,
        }
    }

    /// Data for stdout, human form.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// The one JSON document a `--json` run prints.
    pub fn document(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).expect("a serde_json::Value always serialises");
        self.data(&text);
    }

    /// `text` in an ANSI colour (`green`, `yellow`, `red`, `dim`) when this printer colours, else as is.
    pub fn paint(&self, colour: &str, text: &str) -> String {
        let code = match colour {
            "green" => "32",
            "yellow" => "33",
            "red" => "31",
            "dim" => "2",
            _ => return text.to_string(),
        };
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Ask a yes/no question on the terminal (stderr, answer from stdin). `None` when there is no terminal to
    /// ask (or `--json`): the caller then needs `--yes`.
    pub fn confirm(&self, question: &str) -> Option<bool> {
        use std::io::BufRead;
        if self.json || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            return None;
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok()?;
        Some(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
    }

    /// A note for people (stderr); silent under `--quiet`; a JSON line under `--json`.
    pub fn note(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            eprintln!("{}", json!({"type": "note", "message": text}));
        } else {
            eprintln!("{text}");
        }
    }

    /// Only with `--verbose`.
    pub fn detail(&self, text: &str) {
        if self.verbose {
            self.note(text);
        }
    }

    pub fn warn(&self, text: &str) {
        if self.json {
            eprintln!("{}", json!({"type": "warning", "message": text}));
        } else if self.color {
            eprintln!("\x1b[33mwarning\x1b[0m: {text}");
        } else {
            eprintln!("warning: {text}");
        }
    }

    /// `error: …` and `hint: …` on stderr; under `--json` a JSON line there and the one document on stdout.
    pub fn error(&self, err: &Error) {
        if self.json {
            eprintln!("{}", json!({"type": "error", "message": err.message, "hint": err.hint}));
            let body = crate::documents::ErrorBody {
                message: err.message.clone(),
                hint: err.hint.clone(),
                exit_code: err.exit as i32,
            };
            self.document(&crate::documents::value(&crate::documents::ErrorDocument { ok: false, error: body }));
            return;
        }
        if self.color {
            eprintln!("\x1b[31merror\x1b[0m: {}", err.message);
        } else {
            eprintln!("error: {}", err.message);
        }
        if let Some(hint) = &err.hint {
            eprintln!("hint: {hint}");
        }
    }
}

/// Download progress: a bar with bytes, rate and ETA on a terminal; a line every 5 s off one; JSON lines with
/// `--json` (at most two a second). Retries and restarts are notes in every style but Off.
pub struct DownloadProgress {
    style: ProgressStyle,
    printer: Printer,
    file: String,
    total: u64,
    start: u64,
    began: Option<Instant>,
    last: Option<Instant>,
    bar: Option<indicatif::ProgressBar>,
}

impl crate::hub::download::Progress for DownloadProgress {
    fn begin(&mut self, file: &str, total: u64, resumed_from: u64) {
        self.file = file.to_string();
        self.total = total;
        self.start = resumed_from;
        self.began = Some(Instant::now());
        self.last = None;
        let resumed = if resumed_from > 0 { format!(", resuming at {}", human(resumed_from)) } else { String::new() };
        match self.style {
            ProgressStyle::Bar => {
                let bar = indicatif::ProgressBar::new(total).with_position(resumed_from);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                    )
                    .expect("the template is valid"),
                );
                bar.set_message(file.to_string());
                bar.reset_eta();
                self.bar = Some(bar);
            }
            ProgressStyle::Lines => eprintln!("downloading {file} ({}{resumed})", human(total)),
            ProgressStyle::Json => eprintln!(
                "{}",
                json!({"type": "progress", "event": "begin", "file": file, "total": total, "bytes": resumed_from})
            ),
            ProgressStyle::Off => {}
        }
    }

    fn update(&mut self, done: u64) {
        let every = match self.style {
            ProgressStyle::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(done);
                }
                return;
            }
            ProgressStyle::Lines => Duration::from_secs(5),
            ProgressStyle::Json => Duration::from_millis(500),
            ProgressStyle::Off => return,
        };
        let now = Instant::now();
        // One line per period, counted from the last line (or from the start).
        if self.last.or(self.began).is_some_and(|t| now.duration_since(t) < every) {
            return;
        }
        self.last = Some(now);
        let secs = self.began.map_or(0.0, |t| now.duration_since(t).as_secs_f64()).max(0.001);
        let rate = (done - self.start.min(done)) as f64 / secs;
        if self.style == ProgressStyle::Json {
            eprintln!(
                "{}",
                json!({"type": "progress", "event": "update", "file": self.file, "total": self.total, "bytes": done, "bytes_per_second": rate as u64})
            );
        } else {
            let eta = if rate > 0.0 {
                format!(", eta {:.0} s", (self.total - done.min(self.total)) as f64 / rate)
            } else {
                String::new()
            };
            eprintln!(
                "{}: {} of {} ({:.0}%), {}/s{eta}",
                self.file,
                human(done),
                human(self.total),
                done as f64 * 100.0 / self.total.max(1) as f64,
                human(rate as u64)
            );
        }
    }

    fn message(&mut self, text: &str) {
        match (&self.bar, self.style) {
            (Some(bar), _) => bar.println(format!("note: {text}")),
            (None, ProgressStyle::Off) => {}
            (None, _) => self.printer.note(text),
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.style == ProgressStyle::Json {
            eprintln!(
                "{}",
                json!({"type": "progress", "event": "end", "file": self.file, "total": self.total, "bytes": self.total})
            );
        }
    }
}
