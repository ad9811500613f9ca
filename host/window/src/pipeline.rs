//! The Pipeline tab's data: ftrack's pipeline framework seen from the window, a client of
//! the pipeline hosts (the resident host's own `python` host, and any application's host
//! linked to the same server).
//!
//! - `GET /api/pipeline/hosts?context=ID`: `{"hosts": [...]}`, each a host's discover reply
//!   (`host_id`, `host_name`, `context_id`, `definition` by type), its definitions cut to
//!   those offered in the context `ID` when given (their `discoverable`);
//! - `POST /api/pipeline/runs` with `{host_id, definition, context_id}`: runs the definition
//!   (as the page edited it) on that host against that context, `{"job": ID}`;
//! - `GET /api/pipeline/runs/{job}`: server-sent `progress` events (`{notifications:
//!   [...]}`, each a plugin's notification as the host sent it, the latest
//!   [`MAX_SHOWN`]), then `done` (the finalizers' results) or `failed` (the host's failure:
//!   `message`, `plugin_name`, `plugin_message`...);
//! - `GET /api/pipeline/logs?host=ID&limit=N`: `{"entries": [...]}`, the hosts' notification
//!   log, newest last.
//!
//! The client logic is the host's ([`WindowHost::pipeline_hosts`],
//! [`WindowHost::pipeline_run`], [`WindowHost::pipeline_logs`]).

use std::sync::Mutex;

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking_result, Failure};
use crate::jobs::Job;
use crate::App;

/// The most notifications a run's progress carries (the latest).
pub(crate) const MAX_SHOWN: usize = 400;

/// The most log entries one request reads.
const MAX_LOG_ENTRIES: usize = 1000;

/// `GET /api/pipeline/hosts`' query.
#[derive(Debug, Deserialize)]
pub(crate) struct HostsQuery {
    context: Option<String>,
}

pub(crate) async fn hosts(State(app): State<App>, Query(asked): Query<HostsQuery>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let context = asked.context.filter(|c| !c.is_empty());
        host.pipeline_hosts(context.as_deref())
            .map(|hosts| json!({ "hosts": hosts }))
            .map_err(Failure::host)
    })
    .await
}

/// `POST /api/pipeline/runs`' body.
#[derive(Debug, Deserialize)]
pub(crate) struct RunRequest {
    host_id: String,
    definition: Value,
    context_id: Option<String>,
}

pub(crate) async fn run(State(app): State<App>, Json(asked): Json<RunRequest>) -> Response {
    if asked.host_id.is_empty() || !asked.definition.is_object() {
        return Failure::bad_request("a run needs a host_id and a definition").into_response();
    }
    let name = asked.definition["name"].as_str().unwrap_or("?").to_string();
    tracing::info!("window: running {name:?} on {}", asked.host_id);
    let host = app.host.clone();
    let first = json!({ "notifications": [] });
    let job = app
        .pipeline_runs
        .start("pipeline run", first, move |report| {
            let shown = Mutex::new(Vec::new());
            let progress = Box::new(move |notification: Value| {
                let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
                if shown.len() >= MAX_SHOWN {
                    shown.remove(0);
                }
                shown.push(notification);
                report(json!({ "notifications": *shown }));
            });
            let context = asked.context_id.filter(|c| !c.is_empty());
            match host.pipeline_run(
                &asked.host_id,
                asked.definition,
                context.as_deref(),
                progress,
            ) {
                Ok(results) => Job::Done(json!({ "results": results })),
                Err(failure) => Job::Failed(failure),
            }
        });
    Json(json!({ "job": job })).into_response()
}

pub(crate) async fn follow(State(app): State<App>, UrlPath(job): UrlPath<String>) -> Response {
    app.pipeline_runs.follow(&job, "pipeline run")
}

/// `GET /api/pipeline/logs`' query.
#[derive(Debug, Deserialize)]
pub(crate) struct LogsQuery {
    host: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn logs(State(app): State<App>, Query(asked): Query<LogsQuery>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let limit = asked.limit.unwrap_or(200).min(MAX_LOG_ENTRIES);
        let host_id = asked.host.filter(|h| !h.is_empty());
        host.pipeline_logs(host_id.as_deref(), limit)
            .map(|entries| json!({ "entries": entries }))
            .map_err(Failure::host)
    })
    .await
}
