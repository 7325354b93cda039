//! `clawlocal doctor`: run the checks (`doctor::run_checks`), optionally repair (`--fix`) and check again, and
//! print the report once: one line per check (✓ ! ✗ -), the detail of what is not fine, and the fix to copy.

use std::time::Duration;

use serde_json::json;

use crate::cli::{DoctorArgs, GlobalArgs};
use crate::doctor::{self, Check, Options, Probe, Status};
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::layout;
use crate::output::Printer;

pub fn run(args: &DoctorArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let table = doctor::table_for(&layout);
    if args.list_checks {
        return list(table, printer);
    }
    // Fail on a bad --only before anything runs.
    doctor::selection(table, args.only.as_deref())?;
    let opts = Options { deep: args.deep, chat_timeout: Duration::from_secs(args.chat_timeout.max(1)) };
    let mut probe = Probe::new(host, &layout, opts.clone());
    let mut checks = doctor::run_checks(&mut probe, args.only.as_deref())?;
    let mut repairs = Vec::new();
    if args.fix {
        if args.dry_run {
            repairs = doctor::planned_repairs(&checks, &probe);
        } else {
            repairs = doctor::apply_repairs(&checks, &probe, printer, global.offline);
            if !repairs.is_empty() {
                // Check again from scratch: the report shows the state after the repairs.
                let mut again = Probe::new(host, &layout, opts);
                checks = doctor::run_checks(&mut again, args.only.as_deref())?;
            }
        }
    }
    let report = doctor::report(checks, repairs);
    if printer.json {
        printer.document(&serde_json::to_value(&report).expect("the report serialises"));
    } else {
        printer.data(&render(&report, printer, args.fix && args.dry_run));
    }
    Ok(if report.ok { Exit::Success } else { Exit::Failure })
}

/// The checks for what is installed here (the bundled engine's when nothing is).
fn list(table: &[doctor::Def], printer: &Printer) -> Result<Exit> {
    if printer.json {
        let checks: Vec<_> = table.iter().map(|d| json!({"id": d.id, "title": d.title, "after": d.after})).collect();
        printer.document(&json!({ "checks": checks }));
    } else {
        let rows: Vec<Vec<String>> = table
            .iter()
            .map(|d| {
                let after = if d.after.is_empty() { String::new() } else { format!("(after {})", d.after.join(", ")) };
                vec![d.id.to_string(), d.title.to_string(), after]
            })
            .collect();
        printer.data(&super::table(&rows));
    }
    Ok(Exit::Success)
}

fn mark(status: Status, printer: &Printer) -> String {
    match status {
        Status::Pass => printer.paint("green", "✓"),
        Status::Warn => printer.paint("yellow", "!"),
        Status::Fail => printer.paint("red", "✗"),
        Status::Skip => printer.paint("dim", "-"),
    }
}

/// The human report: `[✓] id  title`, then for what is not fine (or everything with -v) the detail and the fix.
fn render(report: &doctor::Report, printer: &Printer, dry_run: bool) -> String {
    let mut out = lines(report.checks.iter(), printer);
    if !report.repairs.is_empty() {
        out.push_str(if dry_run { "\n--fix would:\n" } else { "\n--fix did:\n" });
        for a in &report.repairs {
            let error = a.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
            out.push_str(&format!("  {:<8} {}{error}\n", a.status, a.description));
        }
    }
    out.push('\n');
    out.push_str(&totals(report));
    out
}

/// The short form init ends with: only the warnings and failures, then the totals.
pub(super) fn render_short(report: &doctor::Report, printer: &Printer) -> String {
    let problems = report.checks.iter().filter(|c| matches!(c.status, Status::Warn | Status::Fail));
    format!("{}doctor: {}", lines(problems, printer), totals(report))
}

fn lines<'a>(checks: impl Iterator<Item = &'a Check> + Clone, printer: &Printer) -> String {
    let width = checks.clone().map(|c| c.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!("[{}] {:<width$}  {}\n", mark(c.status, printer), c.id, c.title));
        let show = printer.verbose || matches!(c.status, Status::Warn | Status::Fail);
        if show && !c.detail.is_empty() {
            out.push_str(&format!("    {}\n", c.detail));
        }
        if let Some(fix) = c.fix.as_ref().filter(|_| c.status != Status::Pass) {
            out.push_str(&format!("    {} {fix}\n", printer.paint("yellow", "fix:")));
        }
    }
    out
}

fn totals(report: &doctor::Report) -> String {
    let count = |s: Status| report.checks.iter().filter(|c: &&Check| c.status == s).count();
    format!(
        "{} passed, {} warnings, {} failed, {} skipped{}",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip),
        if report.checks.iter().any(|c| c.status == Status::Fail && c.repair.is_some()) && report.repairs.is_empty() {
            ": `clawlocal doctor --fix` repairs what it safely can (`--fix --dry-run` shows it first)"
        } else {
            ""
        }
    )
}
