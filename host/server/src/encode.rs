//! `encode_media`: making a version's media playable in a web page, as ftrack's server does.
//!
//! The client uploads the media to `ftrack.server`, then asks `encode_media`; the answer is a
//! `Job` at once, and the work happens after: ffmpeg makes an H.264 MP4
//! (`ftrackreview-mp4`) and a JPEG (`ftrackreview-image`), both stored in `ftrack.server` as
//! components of the version, and the JPEG becomes the version's thumbnail if it has none.
//! The job ends `done` with its output listed in `data`, or `failed` with a message that says
//! what to do: where ffmpeg is not installed, that it is needed.
//!
//! One job runs at a time, on a thread of its own, from a bounded queue: encoding is slow and
//! heavy, and a burst of publishes must not start a burst of ffmpegs.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::files::Files;
use crate::store::{Database, SERVER_LOCATION};

/// Jobs that may wait for the encoder.
const MAX_WAITING_JOBS: usize = 64;

/// How long one ffmpeg run may take.
const FFMPEG_TIME_LIMIT: Duration = Duration::from_secs(600);

/// The ffmpeg to use: `FTRACK_CONNECT_FFMPEG`, else `ffmpeg` on the PATH; `None` when there is
/// none.
pub fn find_ffmpeg() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("FTRACK_CONNECT_FFMPEG") {
        let given = PathBuf::from(given);
        return given.is_file().then_some(given);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("ffmpeg"))
        .find(|candidate| candidate.is_file())
}

/// One media to encode.
pub(crate) struct EncodeJob {
    pub(crate) job_id: String,
    pub(crate) source_component_id: String,
    pub(crate) version_id: Option<String>,
    /// Keep the source component (else it is deleted once encoded).
    pub(crate) keep_original: bool,
}

/// The encoder's queue.
pub(crate) struct Encoder {
    queue: SyncSender<EncodeJob>,
}

impl Encoder {
    /// Starts the encoder's thread.
    pub(crate) fn start(db: Arc<Database>, files: Arc<Files>, url: String) -> Encoder {
        let (queue, jobs) = sync_channel::<EncodeJob>(MAX_WAITING_JOBS);
        let ffmpeg = find_ffmpeg();
        match &ffmpeg {
            Some(ffmpeg) => tracing::info!("media encoding with {}", ffmpeg.display()),
            None => tracing::info!(
                "no ffmpeg found (install it, or set FTRACK_CONNECT_FFMPEG): encode_media jobs \
                 will fail"
            ),
        }
        let _ = std::thread::Builder::new()
            .name("media-encoder".into())
            .spawn(move || {
                for job in jobs {
                    let outcome = match &ffmpeg {
                        Some(ffmpeg) => encode(&db, &files, &url, ffmpeg, &job),
                        None => Err("ffmpeg is not installed on the server, so media cannot be \
                                     made web-playable: install ffmpeg (or point \
                                     FTRACK_CONNECT_FFMPEG at it) and encode again"
                            .to_string()),
                    };
                    if let Err(message) = outcome {
                        tracing::warn!("encode job {} failed: {message}", job.job_id);
                        let data = json!({"message": message, "source_component_id": job.source_component_id});
                        let _ = finish(&db, &url, &job.job_id, "failed", data);
                    }
                }
            });
        Encoder { queue }
    }

    /// Queues `job`; an error when the queue is full.
    pub(crate) fn queue(&self, job: EncodeJob) -> Result<(), ApiError> {
        self.queue.try_send(job).map_err(|err| match err {
            TrySendError::Full(_) => ApiError::bad_request(format!(
                "{MAX_WAITING_JOBS} media are waiting to be encoded: try again later"
            )),
            TrySendError::Disconnected(_) => ApiError::internal("the media encoder stopped"),
        })
    }
}

/// Runs ffmpeg for `job` and records its output components.
fn encode(
    db: &Database,
    files: &Files,
    url: &str,
    ffmpeg: &Path,
    job: &EncodeJob,
) -> Result<(), String> {
    let source = files
        .path_of(&job.source_component_id)
        .filter(|path| path.is_file())
        .ok_or_else(|| {
            format!(
                "component {} has no file in ftrack.server",
                job.source_component_id
            )
        })?;
    finish(
        db,
        url,
        &job.job_id,
        "running",
        json!({"source_component_id": job.source_component_id}),
    )
    .map_err(|e| e.to_string())?;
    let work = tempfile_dir(files)?;
    let mp4 = work.join("review.mp4");
    let jpeg = work.join("review.jpg");
    // Even sizes (H.264 needs them), the pixel format browsers play, the index up front.
    let even = "scale=trunc(iw/2)*2:trunc(ih/2)*2";
    let input = [OsStr::new("-i"), source.as_os_str()];
    let video = [
        "-vf",
        even,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-an",
    ];
    let image = ["-frames:v", "1", "-vf", even];
    let args = |options: &[&'static str], out: &Path| -> Vec<OsString> {
        input
            .iter()
            .map(|a| a.to_os_string())
            .chain(options.iter().map(OsString::from))
            .chain([out.as_os_str().to_os_string()])
            .collect()
    };
    run(ffmpeg, &args(&video, &mp4))?;
    run(ffmpeg, &args(&image, &jpeg))?;

    let output = db
        .transaction(url, |store| {
            let mut output = Vec::new();
            let mut image_component = None;
            for (name, path, file_type, format) in [
                ("ftrackreview-mp4", &mp4, ".mp4", "video/mp4"),
                ("ftrackreview-image", &jpeg, ".jpg", "image/jpeg"),
            ] {
                let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
                let mut data = Map::new();
                data.insert("name".into(), json!(name));
                data.insert("file_type".into(), json!(file_type));
                data.insert("size".into(), json!(size));
                if let Some(version) = &job.version_id {
                    data.insert("version_id".into(), json!(version));
                }
                let component = store.create("FileComponent", &data)?;
                let id = component["id"].as_str().unwrap_or_default().to_string();
                let target = files.path_of(&id).ok_or("bad component id")?;
                if let Some(folder) = target.parent() {
                    std::fs::create_dir_all(folder).map_err(|e| e.to_string())?;
                }
                std::fs::rename(path, &target).map_err(|e| e.to_string())?;
                let location = json!({"component_id": id, "location_id": SERVER_LOCATION,
                                      "resource_identifier": id});
                store.create(
                    "ComponentLocation",
                    location.as_object().expect("an object"),
                )?;
                let link = json!({"job_id": job.job_id, "component_id": id});
                store.create("JobComponent", link.as_object().expect("an object"))?;
                if format == "image/jpeg" {
                    image_component = Some(id.clone());
                }
                output.push(json!({"format": format, "component_id": id}));
            }
            if let (Some(version), Some(image)) = (&job.version_id, image_component) {
                if !store.version_thumbnail(version)? {
                    let update = json!({"thumbnail_id": image});
                    store.update(
                        "AssetVersion",
                        &[json!(version)],
                        update.as_object().expect("an object"),
                    )?;
                }
            }
            if !job.keep_original {
                // Media sent as a path: its upload was only the encoder's input (ftrack's rule).
                store.delete("FileComponent", &[json!(job.source_component_id)])?;
            }
            Ok::<_, Failure>(output)
        })
        .map_err(|Failure(message)| message)?;
    if !job.keep_original {
        let _ = std::fs::remove_file(&source);
    }
    let _ = std::fs::remove_dir_all(&work);
    let data = json!({"output": output, "source_component_id": job.source_component_id});
    finish(db, url, &job.job_id, "done", data).map_err(|e| e.to_string())
}

/// A fresh working folder under the files' incoming folder.
fn tempfile_dir(files: &Files) -> Result<PathBuf, String> {
    let dir = files
        .incoming()
        .join(format!("encode-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Runs ffmpeg with `args` (quietly, overwriting, without reading stdin), within the limit.
fn run(ffmpeg: &Path, args: &[OsString]) -> Result<(), String> {
    let mut child = Command::new(ffmpeg)
        .args(["-nostdin", "-y", "-loglevel", "error"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", ffmpeg.display()))?;
    let deadline = std::time::Instant::now() + FFMPEG_TIME_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut said = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    use std::io::Read;
                    let _ = stderr.read_to_string(&mut said);
                }
                let said = said.lines().last().unwrap_or("").trim().to_string();
                return Err(format!("ffmpeg failed ({status}): {said}"));
            }
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "ffmpeg took over {} s and was stopped",
                    FFMPEG_TIME_LIMIT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(err) => return Err(format!("ffmpeg: {err}")),
        }
    }
}

/// Sets job `id`'s status and data (and its end time when it ended).
fn finish(db: &Database, url: &str, id: &str, status: &str, data: Value) -> Result<(), ApiError> {
    let mut update = json!({"status": status, "data": data.to_string()});
    if status == "done" || status == "failed" {
        update["finished_at"] = json!(crate::users::now_utc());
    }
    db.transaction(url, |store| {
        store.update("Job", &[json!(id)], update.as_object().expect("an object"))?;
        Ok(())
    })
}

/// Why recording an encode's output failed: the message the job ends with. (The store's
/// errors and the file moves' in one type, so the transaction is undone for either.)
struct Failure(String);

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Failure {
        Failure(err.to_string())
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure(message.to_string())
    }
}
