//! Long work the page starts and follows: a publish, a pipeline run. Each is a *job*: started
//! on a blocking thread ([`Jobs::start`]), its progress kept as the latest value, and its
//! outcome kept after it ends, so a page that reconnects (or opens later) still learns it.
//! A page follows one on an event stream ([`Jobs::follow`]): `progress` events as it
//! changes, then one `done` (the outcome) or `failed` (`{error}`, or the failure's own
//! object).

use std::sync::Mutex;

use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::api::{stream, EventStream, Failure};

/// Finished jobs remembered, the oldest forgotten first (running ones never are).
const MAX_JOBS: usize = 32;

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Job {
    /// Under way: the latest progress.
    Running(Value),
    /// Done: its outcome.
    Done(Value),
    /// Failed: why (text, or the failure's object).
    Failed(Value),
}

/// Reports a running job's progress.
pub(crate) type Report = Box<dyn Fn(Value) + Send + Sync>;

/// The jobs of one kind.
#[derive(Default)]
pub(crate) struct Jobs {
    list: Mutex<Vec<(String, watch::Receiver<Job>)>>,
}

impl Jobs {
    /// Starts `work` on a blocking thread with `first` as its progress; its id. `work` gets
    /// a [`Report`] and returns the outcome.
    pub(crate) fn start(
        &self,
        what: &str,
        first: Value,
        work: impl FnOnce(Report) -> Job + Send + 'static,
    ) -> String {
        let job = uuid::Uuid::new_v4().simple().to_string();
        let (state, watched) = watch::channel(Job::Running(first));
        {
            let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
            let finished =
                |j: &(String, watch::Receiver<Job>)| !matches!(*j.1.borrow(), Job::Running(_));
            while list.len() >= MAX_JOBS {
                match list.iter().position(finished) {
                    Some(oldest) => drop(list.remove(oldest)),
                    None => break,
                }
            }
            list.push((job.clone(), watched));
        }
        let (id, what) = (job.clone(), what.to_string());
        tokio::task::spawn_blocking(move || {
            let progress = state.clone();
            let report = Box::new(move |now: Value| {
                progress.send_replace(Job::Running(now));
            });
            // A panic in the work must still end the job, or the page (and a restart, which
            // waits for running jobs) would wait for it for ever.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(report)))
                .unwrap_or_else(|_| {
                    Job::Failed(Value::String(format!(
                        "the {what} failed unexpectedly (see the host's log)"
                    )))
                });
            match &outcome {
                Job::Done(_) => tracing::info!("window: {what} {id} done"),
                Job::Failed(why) => tracing::warn!("window: {what} {id} failed: {why}"),
                Job::Running(_) => {}
            }
            state.send_replace(outcome);
        });
        job
    }

    /// Whether a job is under way.
    pub(crate) fn any_running(&self) -> bool {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(_, watched)| matches!(*watched.borrow(), Job::Running(_)))
    }

    /// The event stream of job `job` (404 when it is not known).
    pub(crate) fn follow(&self, job: &str, what: &str) -> Response {
        let watched = {
            let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
            list.iter()
                .find(|(id, _)| id == job)
                .map(|(_, w)| w.clone())
        };
        let Some(watched) = watched else {
            return Failure::not_found(&format!("no such {what}")).into_response();
        };
        stream(JobStream {
            watched,
            sent_first: false,
            ended: false,
        })
    }
}

/// One page following a job: its progress as it changes, then its outcome.
struct JobStream {
    watched: watch::Receiver<Job>,
    sent_first: bool,
    ended: bool,
}

impl EventStream for JobStream {
    async fn next(&mut self) -> Option<SseEvent> {
        if self.ended {
            return None;
        }
        if self.sent_first
            && self.watched.changed().await.is_err()
            && matches!(*self.watched.borrow(), Job::Running(_))
        {
            // The job's sender is gone without a last word: nothing more to say.
            return None;
        }
        self.sent_first = true;
        let now = self.watched.borrow_and_update().clone();
        let (name, data) = match now {
            Job::Running(progress) => ("progress", progress),
            Job::Done(outcome) => ("done", outcome),
            Job::Failed(Value::String(error)) => ("failed", json!({ "error": error })),
            Job::Failed(failure) => ("failed", failure),
        };
        self.ended = name != "progress";
        Some(SseEvent::default().event(name).data(data.to_string()))
    }
}
