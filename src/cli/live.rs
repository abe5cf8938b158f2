//! How a watch is shown: live (indicatif bars on a terminal, JSON lines, or plain lines) while it
//! runs, then the summary table. Shared by `watch` and `demo`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use unitask::UploadTask;
use unitask::http::redact::Redactor;
use unitask::watch::{Ending, Event, Finished, Report, Target};

/// Up to this many tasks get a bar each on a terminal; more get the overall bar only.
const BARS_PER_TASK: usize = 40;
/// Up to this many tasks get a row each in the summary; more are grouped.
const ROWS_PER_TASK: usize = 40;

/// How changes are shown while watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars on stderr.
    Bars,
    /// One JSON object per line on stdout.
    JsonLines,
    /// One human line per change on stdout.
    Lines,
}

/// Shows a watch as it happens.
pub struct Live<'a> {
    mode: Mode,
    redactor: &'a Redactor,
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    bars: Vec<Option<ProgressBar>>,
    endings: BTreeMap<&'static str, usize>,
    /// Buffered: thousands of lines a second would otherwise be as many writes. A thread
    /// flushes it every `FLUSH_EVERY` (so a quiet watch still shows its last line), and `close`
    /// does.
    stdout: Arc<Mutex<std::io::BufWriter<std::io::Stdout>>>,
}

const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A buffered stdout that a thread flushes every `period` until the writer is dropped.
fn flushed_every(period: Duration) -> Arc<Mutex<std::io::BufWriter<std::io::Stdout>>> {
    let stdout = Arc::new(Mutex::new(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout(),
    )));
    let weak = Arc::downgrade(&stdout);
    std::thread::spawn(move || {
        while let Some(stdout) = weak.upgrade() {
            let _ = stdout.lock().unwrap_or_else(|e| e.into_inner()).flush();
            drop(stdout);
            std::thread::sleep(period);
        }
    });
    stdout
}

/// A `"state"` line: the task serialized in place, not copied into a JSON value first.
#[derive(serde::Serialize)]
struct StateLine<'a> {
    event: &'static str,
    /// The task's position in the list, which tells apart two tasks with one id.
    index: usize,
    provider: &'a str,
    task_id: &'a str,
    polls: u32,
    elapsed_ms: u64,
    task: &'a UploadTask,
}

impl<'a> Live<'a> {
    pub fn new(mode: Mode, targets: &[Target], redactor: &'a Redactor) -> Live<'a> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let (overall, bars) = if mode == Mode::Bars {
            let width = targets
                .iter()
                .map(|t| t.provider.len() + t.task_id.len() + 1)
                .max()
                .unwrap_or(0)
                .min(60);
            let task_style = ProgressStyle::with_template(&format!(
                "{{prefix:{width}}} {{spinner}} {{wide_msg}} {{elapsed:>4}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bars = if targets.len() <= BARS_PER_TASK {
                targets
                    .iter()
                    .map(|t| {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(task_style.clone());
                        bar.set_prefix(format!("{} {}", t.provider, t.task_id));
                        bar.set_message("waiting");
                        bar.enable_steady_tick(Duration::from_millis(120));
                        Some(bar)
                    })
                    .collect()
            } else {
                vec![None; targets.len()]
            };
            let overall = multi.add(ProgressBar::new(targets.len() as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "[{bar:30}] {pos}/{len} done  {wide_msg} {elapsed:>4}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            overall.enable_steady_tick(Duration::from_millis(250));
            (Some(overall), bars)
        } else {
            (None, vec![None; targets.len()])
        };
        Live {
            mode,
            redactor,
            multi,
            overall,
            bars,
            endings: BTreeMap::new(),
            stdout: flushed_every(FLUSH_EVERY),
        }
    }

    /// Writes one line to stdout, redacted.
    pub fn line(&mut self, text: &str) {
        let text = self.redactor.redact(text);
        let mut out = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{text}");
    }

    /// Shows one event of a watch whose targets were added in order (a task's key is its
    /// index in the list).
    pub fn on_event(&mut self, event: &Event) {
        self.on_event_at(event.key().get() as usize, event);
    }

    /// Shows one event of the task at `index` in the list.
    pub fn on_event_at(&mut self, index: usize, event: &Event) {
        match event {
            Event::Changed {
                target,
                task,
                polls,
                elapsed,
                ..
            } => match self.mode {
                Mode::JsonLines => {
                    let line = StateLine {
                        event: "state",
                        index,
                        provider: &target.provider,
                        task_id: &target.task_id,
                        polls: *polls,
                        elapsed_ms: elapsed.as_millis() as u64,
                        task,
                    };
                    self.line(&serde_json::to_string(&line).unwrap_or_default());
                }
                Mode::Lines => {
                    let line = format!(
                        "{:>7}  {} {}: {}",
                        seconds(*elapsed),
                        target.provider,
                        target.task_id,
                        describe(task)
                    );
                    self.line(&line);
                }
                Mode::Bars => {
                    if let Some(Some(bar)) = self.bars.get(index) {
                        bar.set_message(self.redactor.redact(&describe(task)));
                    }
                }
            },
            Event::Failed {
                target,
                error,
                polls,
                elapsed,
                gives_up,
                ..
            } => match self.mode {
                Mode::JsonLines => {
                    let line = json!({
                        "event": "error",
                        "index": index,
                        "provider": target.provider,
                        "task_id": target.task_id,
                        "polls": polls,
                        "elapsed_ms": elapsed.as_millis() as u64,
                        "gives_up": gives_up,
                        "error": error,
                    });
                    self.line(&line.to_string());
                }
                Mode::Lines => {
                    let then = if *gives_up {
                        "giving up"
                    } else {
                        "will poll again"
                    };
                    let line = format!(
                        "{:>7}  {} {}: {error} ({then})",
                        seconds(*elapsed),
                        target.provider,
                        target.task_id
                    );
                    self.line(&line);
                }
                Mode::Bars => {
                    if let Some(Some(bar)) = self.bars.get(index) {
                        bar.set_message(self.redactor.redact(&format!("{error} (polling again)")));
                    }
                }
            },
            Event::Finished {
                target, finished, ..
            } => {
                *self.endings.entry(finished.ending.name()).or_default() += 1;
                match self.mode {
                    Mode::JsonLines => {
                        let line = done_json(index, target, finished);
                        self.line(&line.to_string());
                    }
                    Mode::Lines => {
                        let line = format!(
                            "{:>7}  {} {}: ended {}",
                            seconds(finished.elapsed),
                            target.provider,
                            target.task_id,
                            ending_text(finished)
                        );
                        self.line(&line);
                    }
                    Mode::Bars => {
                        if let Some(Some(bar)) = self.bars.get(index) {
                            bar.finish_with_message(
                                self.redactor
                                    .redact(&format!("ended {}", ending_text(finished))),
                            );
                        }
                        if let Some(overall) = &self.overall {
                            overall.inc(1);
                            let counts: Vec<String> = self
                                .endings
                                .iter()
                                .map(|(k, v)| format!("{v} {k}"))
                                .collect();
                            overall.set_message(counts.join(", "));
                        }
                    }
                }
            }
            // Kinds of event a later version adds: nothing to show for them here.
            _ => {}
        }
    }

    /// Stops drawing and writes what is buffered.
    pub fn close(&mut self) {
        let _ = self
            .stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flush();
        if let Some(overall) = &self.overall {
            overall.finish();
        }
        let _ = self.multi.clear();
    }
}

fn done_json(index: usize, target: &Target, finished: &Finished) -> serde_json::Value {
    let error = match &finished.ending {
        Ending::Failed(error) => Some(error),
        _ => None,
    };
    json!({
        "event": "done",
        "index": index,
        "provider": target.provider,
        "task_id": target.task_id,
        "ending": finished.ending.name(),
        "state": finished.state,
        "native_status": finished.native_status,
        "progress": finished.progress,
        "polls": finished.polls,
        "elapsed_ms": finished.elapsed.as_millis() as u64,
        "error": error,
    })
}

pub fn summary_json(report: &Report, exit_code: u8) -> String {
    let mut endings: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &report.tasks {
        *endings.entry(task.ending.name()).or_default() += 1;
    }
    json!({
        "event": "summary",
        "tasks": report.tasks.len(),
        "endings": endings,
        "requests": report.requests,
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "requests_per_second": rate(report),
        "exit_code": exit_code,
    })
    .to_string()
}

fn rate(report: &Report) -> u64 {
    let secs = report.elapsed.as_secs_f64();
    if secs > 0.0 {
        (report.requests as f64 / secs).round() as u64
    } else {
        0
    }
}

/// `running (PROCESSING) 3/10 items`; a coded status with its label: `running (3 Transcoding)`.
fn describe(task: &UploadTask) -> String {
    let mut text = match &task.native_label {
        Some(label) => format!("{} ({} {label})", task.state, task.native_status),
        None => format!("{} ({})", task.state, task.native_status),
    };
    if let Some(progress) = &task.progress {
        text.push(' ');
        text.push_str(&progress_text(progress));
    }
    text
}

fn progress_text(progress: &unitask::Progress) -> String {
    let unit = progress.unit.as_str();
    match progress.total {
        Some(total) => format!("{}/{} {unit}", progress.done, total),
        None => format!("{} {unit}", progress.done),
    }
}

fn ending_text(finished: &Finished) -> String {
    match &finished.ending {
        Ending::Failed(error) => format!("error: {error}"),
        ending => ending.name().to_owned(),
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// The summary table: a row per task (with an `expected` column when given), or for many tasks
/// the count of each ending per provider and the tasks that did not succeed; then the totals.
pub fn summary(targets: &[Target], report: &Report, expected: Option<&[String]>) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let row = |target: &Target, task: &Finished| {
        vec![
            target.provider.clone(),
            target.task_id.clone(),
            ending_text(task),
            task.native_status.clone().unwrap_or_else(|| "-".into()),
            task.progress
                .as_ref()
                .map_or_else(|| "-".into(), progress_text),
            task.polls.to_string(),
            seconds(task.elapsed),
        ]
    };
    let mut out = String::new();
    if targets.len() <= ROWS_PER_TASK || expected.is_some() {
        let mut header: Vec<String> = [
            "PROVIDER", "TASK", "ENDED", "NATIVE", "PROGRESS", "POLLS", "ELAPSED",
        ]
        .map(String::from)
        .to_vec();
        if expected.is_some() {
            header.extend(["EXPECTED".into(), "OK".into()]);
        }
        rows.push(header);
        for (i, (target, task)) in targets.iter().zip(&report.tasks).enumerate() {
            let mut cells = row(target, task);
            if let Some(expected) = expected {
                let wanted = expected.get(i).cloned().unwrap_or_default();
                let ok = ending_matches(task, &wanted);
                cells.extend([wanted, if ok { "✔".into() } else { "✘".into() }]);
            }
            rows.push(cells);
        }
        out.push_str(&table(&rows));
    } else {
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (target, task) in targets.iter().zip(&report.tasks) {
            *counts
                .entry((target.provider.as_str(), task.ending.name()))
                .or_default() += 1;
        }
        rows.push(["PROVIDER", "ENDED", "TASKS"].map(String::from).to_vec());
        for ((provider, ending), count) in counts {
            rows.push(vec![provider.into(), ending.into(), count.to_string()]);
        }
        out.push_str(&table(&rows));
        let unsuccessful: Vec<Vec<String>> = targets
            .iter()
            .zip(&report.tasks)
            .filter(|(_, t)| t.ending != Ending::Terminal(unitask::State::Succeeded))
            .map(|(target, task)| row(target, task))
            .collect();
        if !unsuccessful.is_empty() {
            out.push_str("\nnot succeeded:\n");
            let mut rows = vec![
                [
                    "PROVIDER", "TASK", "ENDED", "NATIVE", "PROGRESS", "POLLS", "ELAPSED",
                ]
                .map(String::from)
                .to_vec(),
            ];
            rows.extend(unsuccessful.iter().take(ROWS_PER_TASK).cloned());
            out.push_str(&table(&rows));
            if unsuccessful.len() > ROWS_PER_TASK {
                out.push_str(&format!(
                    "… and {} more\n",
                    unsuccessful.len() - ROWS_PER_TASK
                ));
            }
        }
    }
    let mut endings: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &report.tasks {
        *endings.entry(task.ending.name()).or_default() += 1;
    }
    let counts: Vec<String> = endings.iter().map(|(k, v)| format!("{v} {k}")).collect();
    out.push_str(&format!(
        "\n{} task(s): {}; {} request(s) in {:.1}s ({} req/s)\n",
        report.tasks.len(),
        counts.join(", "),
        report.requests,
        report.elapsed.as_secs_f64(),
        rate(report)
    ));
    out
}

/// Whether a task ended as `expected` describes it (`succeeded`, `error: not_found`, …).
pub fn ending_matches(task: &Finished, expected: &str) -> bool {
    match &task.ending {
        Ending::Failed(error) => expected == format!("error: {}", error.kind),
        ending => ending.name() == expected,
    }
}

/// Columns padded to their widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count().min(60))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let cell: String = if cell.chars().count() > 60 {
                cell.chars().take(59).chain(['…']).collect()
            } else {
                cell.clone()
            };
            if c + 1 == row.len() {
                line.push_str(&cell);
            } else {
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.push_str(&cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
