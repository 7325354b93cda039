//! The only module that writes to the terminal. stdout carries what the user asked for (a table, a
//! plan, or with `--json` exactly one JSON document); stderr carries notes, warnings and errors.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use serde_json::json;

use crate::error::Error;

#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
}

impl Printer {
    /// Colour only on a terminal, and never with `NO_COLOR` set.
    pub fn new(json: bool, quiet: bool, verbose: bool, no_color_env: bool) -> Self {
        let color = !no_color_env && !json && std::io::stderr().is_terminal();
        Self { json, quiet, verbose, color }
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

    /// `error: …` and `hint: …` on stderr; under `--json` also the one document on stdout.
    pub fn error(&self, err: &Error) {
        if self.color {
            eprintln!("\x1b[31merror\x1b[0m: {}", err.message);
        } else {
            eprintln!("error: {}", err.message);
        }
        if let Some(hint) = &err.hint {
            eprintln!("hint: {hint}");
        }
        if self.json {
            self.document(&json!({
                "ok": false,
                "error": {"message": err.message, "hint": err.hint, "exit_code": err.exit as i32}
            }));
        }
    }
}
