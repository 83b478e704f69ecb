//! How far a long intake is: a bar on a terminal, a log line every few
//! seconds elsewhere, nothing when there is no backlog.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Told as an intake pass goes.
pub trait Progress: Send + Sync {
    /// A pass found `total` mails waiting.
    fn start(&self, total: usize);
    /// `n` more are done (filed, kept aside, or left for the next pass).
    fn advance(&self, n: usize);
    /// The pass ended.
    fn finish(&self);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize) {}
    fn advance(&self, _: usize) {}
    fn finish(&self) {}
}

/// Fewer mails than this make no report: they take a moment.
const BACKLOG: usize = 1000;

/// What a report says: done of total, the rate, the time left.
fn summary(done: usize, total: usize, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let left = if rate > 0.0 {
        format!(
            ", about {} s left",
            ((total - done.min(total)) as f64 / rate).round()
        )
    } else {
        String::new()
    };
    format!("{done} of {total} mails, {rate:.0} mails/s{left}")
}

/// A log line at most every `every`, for services whose output is a log.
pub struct LogLines {
    every: Duration,
    state: Mutex<Option<Pass>>,
}

struct Pass {
    total: usize,
    done: usize,
    started: Instant,
    said: Instant,
}

impl LogLines {
    pub fn every(every: Duration) -> Self {
        LogLines {
            every,
            state: Mutex::new(None),
        }
    }
}

impl Progress for LogLines {
    fn start(&self, total: usize) {
        let now = Instant::now();
        *self.state.lock().expect("not poisoned") = (total >= BACKLOG).then(|| {
            tracing::info!(total, "a backlog is waiting; taking it in");
            Pass {
                total,
                done: 0,
                started: now,
                said: now,
            }
        });
    }

    fn advance(&self, n: usize) {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some(p) = state.as_mut() {
            p.done += n;
            if p.said.elapsed() >= self.every {
                p.said = Instant::now();
                tracing::info!("{}", summary(p.done, p.total, p.started.elapsed()));
            }
        }
    }

    fn finish(&self) {
        if let Some(p) = self.state.lock().expect("not poisoned").take() {
            tracing::info!("{}", summary(p.done, p.total, p.started.elapsed()));
        }
    }
}

/// A progress bar on standard error, for a person watching `run --once`.
pub struct Bar(Mutex<Option<indicatif::ProgressBar>>);

impl Bar {
    pub fn new() -> Self {
        Bar(Mutex::new(None))
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Progress for Bar {
    fn start(&self, total: usize) {
        let bar = (total >= BACKLOG).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{wide_bar} {pos}/{len} mails, {per_sec}, {eta} left",
                )
                .expect("a valid template"),
            );
            bar
        });
        *self.0.lock().expect("not poisoned") = bar;
    }

    fn advance(&self, n: usize) {
        if let Some(bar) = self.0.lock().expect("not poisoned").as_ref() {
            bar.inc(n as u64);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.0.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_gives_the_rate_and_the_time_left() {
        assert_eq!(
            summary(500, 2000, Duration::from_secs(2)),
            "500 of 2000 mails, 250 mails/s, about 6 s left"
        );
    }
}
