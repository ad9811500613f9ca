//! `ftrack-connect publish`: a version from files and sequences, as Connect's publisher
//! makes it (`connect-publisher`), with a progress bar; complete, or nothing left behind.
//!
//! The sign-in is `run`'s (the environment, else the stored account, else the local server
//! of the running host). The plugins are loaded here, for what they add to a publish: the
//! disk locations `ftrack.api.session.configure-location` hooks declare, and the
//! `ftrack.connect.publish.make-web-playable` hooks (the host's own encodes the component
//! on the server, as Connect's built-in one does).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use connect_core::ApiKey;
use connect_ftrack_api::Client;
use connect_publisher::{
    Cancel, ComponentSource, Context, Progress, Published, Publisher, Request,
};
use ftrack_connect::host::{Host, PythonSignIn};
use ftrack_connect::publishing::{
    declared_locations, drop_zone_identifiers, subscribe_default_web_playable, HubWebPlayable,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{fail, PluginPaths, USAGE_ERROR};

/// Exit status of a publish that was interrupted (and rolled back).
const INTERRUPTED: u8 = 130;

/// `publish`'s options.
#[derive(clap::Args)]
pub struct PublishArgs {
    /// What to publish against: TYPE:ID (a task, usually).
    #[arg(long, value_name = "TYPE:ID", conflicts_with = "context_path")]
    context: Option<String>,
    /// What to publish against, by names: "project/sequence/shot/task".
    #[arg(long, value_name = "PATH")]
    context_path: Option<String>,
    /// The asset's name (default: the asset type's name, as in Connect).
    #[arg(long, value_name = "NAME")]
    asset: Option<String>,
    /// The asset type's short name.
    #[arg(long, value_name = "SHORT", default_value = "upload")]
    asset_type: String,
    /// The version's comment.
    #[arg(long, value_name = "TEXT", default_value = "")]
    description: String,
    /// A picture for the version (bmp, gif, jpeg, jpg, png, tif, tiff; at most 10 MiB).
    #[arg(long, value_name = "FILE")]
    thumbnail: Option<PathBuf>,
    /// The component to encode for review (a movie or an image).
    #[arg(long, value_name = "COMPONENT")]
    web_playable: Option<String>,
    /// The location (default: the declared disk location with the lowest priority, else
    /// ftrack.server).
    #[arg(long, value_name = "NAME")]
    location: Option<String>,
    /// A component with its name: NAME=PATH, PATH a file or a sequence as
    /// `ftrack-connect sequences` writes it (repeatable).
    #[arg(long = "component", value_name = "NAME=PATH")]
    components: Vec<String>,
    /// Print what was published as JSON.
    #[arg(long)]
    json: bool,
    /// Files, grouped into sequences as Connect's drop zone does.
    paths: Vec<String>,
    #[command(flatten)]
    plugin_paths: PluginPaths,
}

/// Runs `publish`.
pub fn run(args: &PublishArgs, first: &PluginPaths, data_dir: &Path) -> ExitCode {
    let request = match request(args) {
        Ok(request) => request,
        Err(why) => return usage(&why),
    };
    let (server_url, api_user, key) = match super::event::server_sign_in(data_dir) {
        Ok(sign_in) => sign_in,
        Err(why) => return fail(&format!("cannot publish: {why}")),
    };
    let client = match Client::new(&server_url, &api_user, key.clone()) {
        Ok(client) => Arc::new(client),
        Err(err) => return fail(&err.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start: {err}")),
    };

    let host = load_host(args, first, data_dir, &server_url, &api_user, key);
    let locations = declared_locations(&host.start_session());
    subscribe_default_web_playable(&host, &client, runtime.handle().clone(), &api_user);
    let hook = HubWebPlayable {
        host: &host,
        user: api_user.clone(),
    };

    let cancel = Cancel::default();
    let progress = Bar::new(args.json);
    let outcome = runtime.block_on(async {
        let interrupt = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupt.cancel();
            }
        });
        Publisher::new(&client, &data_dir.join("publish"), &progress)
            .with_disk_locations(locations)
            .with_web_playable(&hook)
            .with_cancel(cancel.clone())
            .publish(&request)
            .await
    });
    progress.clear();
    match outcome {
        Ok(published) => {
            report(&published, args.json);
            ExitCode::SUCCESS
        }
        Err(err) if err.was_cancelled() => {
            eprintln!("error: {err}");
            ExitCode::from(INTERRUPTED)
        }
        Err(err) => fail(&format!("the publish failed: {err}")),
    }
}

/// The request the flags describe; the error is for the user.
fn request(args: &PublishArgs) -> Result<Request, String> {
    let context = match (&args.context, &args.context_path) {
        (Some(entity), _) => {
            let (entity_type, id) = entity
                .split_once(':')
                .filter(|(t, i)| !t.is_empty() && !i.is_empty())
                .ok_or_else(|| format!("--context {entity:?}: give TYPE:ID, as Task:3f2a..."))?;
            Context::Entity {
                entity_type: entity_type.to_string(),
                id: id.to_string(),
            }
        }
        (None, Some(path)) => Context::Path(path.clone()),
        (None, None) => {
            return Err(
                "say what to publish against: --context TYPE:ID or --context-path PATH".into(),
            )
        }
    };
    let mut components = Vec::new();
    for named in &args.components {
        let (name, path) = named
            .split_once('=')
            .ok_or_else(|| format!("--component {named:?}: give NAME=PATH"))?;
        components.push(ComponentSource::read(path, Some(name)).map_err(|e| e.to_string())?);
    }
    for identifier in drop_zone_identifiers(&args.paths)? {
        components.push(ComponentSource::read(&identifier, None).map_err(|e| e.to_string())?);
    }
    if components.is_empty() {
        return Err("nothing to publish: give files, or --component NAME=PATH".into());
    }
    Ok(Request {
        context,
        asset_name: args.asset.clone(),
        asset_type: Some(args.asset_type.clone()),
        description: args.description.clone(),
        thumbnail: args.thumbnail.clone(),
        web_playable: args.web_playable.clone(),
        location: args.location.clone(),
        components,
    })
}

/// The plugins, with Python hooks signed in as the publish is. Loaded with [`Host::load`],
/// not `Host::standalone` as the other commands' hosts are: the publish runs the session
/// start-up itself ([`Host::start_session`]) because it needs what the `configure-location`
/// hooks answered (the disk locations), which `standalone` drops.
fn load_host(
    args: &PublishArgs,
    first: &PluginPaths,
    data_dir: &Path,
    server_url: &str,
    api_user: &str,
    key: ApiKey,
) -> Host {
    let mut options = args.plugin_paths.host_options(first, data_dir);
    options.python.sign_in = Some(PythonSignIn {
        server_url: server_url.to_string(),
        api_user: api_user.to_string(),
        api_key: key,
    });
    let mut identity = ftrack_connect::credentials::current(data_dir);
    identity.api_user = api_user.to_string();
    identity.server_url = server_url.to_string();
    Host::load(&identity, &options)
}

/// The progress bar: files and bytes, on a terminal only.
struct Bar {
    bar: ProgressBar,
    /// Files started, and in all.
    files: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
}

impl Bar {
    fn new(quiet: bool) -> Bar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:30!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar {
            bar,
            files: Default::default(),
            total: Default::default(),
        }
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn start(&self, files: u64, bytes: u64) {
        self.total
            .store(files, std::sync::atomic::Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("{files} files"));
    }

    fn file(&self, name: &str) {
        let done = self
            .files
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
        let short = name.rsplit('/').next().unwrap_or(name);
        self.bar.set_message(format!("{done}/{total} {short}"));
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn say(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }
}

fn report(published: &Published, json: bool) {
    for warning in &published.warnings {
        eprintln!("warning: {warning}");
    }
    if json {
        outln!("{}", serde_json::to_string(published).expect("JSON"));
        return;
    }
    outln!(
        "published {} v{} ({}) to {}",
        published.asset,
        published.version,
        published.version_id,
        published.location
    );
    for component in &published.components {
        let members = if component.members > 0 {
            format!(", {} files", component.members)
        } else {
            String::new()
        };
        outln!(
            "  {} ({}{members}, {} bytes): {}",
            component.name,
            component.kind,
            component.size,
            component.resource_identifier
        );
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE_ERROR)
}
