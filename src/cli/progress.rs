//! Showing snapshot progress: a bar per route on a terminal (rows copied,
//! rows/s, ETA from the catalog's row estimate), plain log lines otherwise,
//! and a summary at the end.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::snapshot::progress::JobStatus;

/// How often a non-terminal display logs a route's progress.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub(super) struct ProgressDisplay {
    bars: Option<MultiProgress>,
    routes: BTreeMap<String, Shown>,
    started: Instant,
}

struct Shown {
    bar: Option<ProgressBar>,
    last: Option<JobStatus>,
    first_rows: Option<u64>,
    first_seen: Instant,
    last_logged: Option<Instant>,
}

impl ProgressDisplay {
    pub(super) fn new() -> ProgressDisplay {
        let bars =
            std::io::stderr().is_terminal().then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        ProgressDisplay { bars, routes: BTreeMap::new(), started: Instant::now() }
    }

    pub(super) fn update(&mut self, status: &JobStatus) {
        let bars = self.bars.clone();
        let shown = self.routes.entry(status.route.clone()).or_insert_with(|| Shown {
            bar: bars.map(|bars| {
                let bar = bars.add(ProgressBar::new(status.estimate.max(status.rows_copied)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:30} {bar:30} {human_pos}/{human_len} rows  {per_sec}  ETA {eta}  {msg}",
                    )
                    .expect("template is valid"),
                );
                bar.set_prefix(status.table.clone());
                bar
            }),
            last: None,
            first_rows: None,
            first_seen: Instant::now(),
            last_logged: None,
        });
        shown.first_rows.get_or_insert(status.rows_copied);
        if let Some(bar) = &shown.bar {
            if status.rows_copied > bar.length().unwrap_or(0) {
                bar.set_length(status.rows_copied);
            }
            bar.set_position(status.rows_copied);
            if status.done {
                bar.set_length(status.rows_copied);
                bar.finish_with_message("done");
            }
        } else if status.done || shown.last_logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            shown.last_logged = Some(Instant::now());
            let elapsed = shown.first_seen.elapsed().as_secs_f64().max(0.001);
            let rate = (status.rows_copied - shown.first_rows.unwrap_or(0)) as f64 / elapsed;
            eprintln!(
                "backfill {} ({}): {} rows copied{}, {:.0} rows/s{}",
                status.route,
                status.table,
                status.rows_copied,
                if status.estimate > 0 { format!(" of ~{}", status.estimate) } else { String::new() },
                rate,
                if status.done { ", done" } else { "" }
            );
        }
        shown.last = Some(status.clone());
    }

    /// Prints one line per route: rows, time, rate, and whether it finished.
    pub(super) fn summary(&self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        println!("{:<40} {:>12} {:>8} {:>12}  state", "route", "rows", "seconds", "rows/s");
        for (route, shown) in &self.routes {
            let Some(status) = &shown.last else { continue };
            let copied = status.rows_copied - shown.first_rows.unwrap_or(0);
            let seconds = shown.first_seen.elapsed().as_secs_f64().min(elapsed).max(0.001);
            println!(
                "{:<40} {:>12} {:>8.1} {:>12.0}  {}",
                route,
                status.rows_copied,
                seconds,
                copied as f64 / seconds,
                if status.done { "done" } else { "unfinished (resumes on the next run)" }
            );
        }
    }
}
