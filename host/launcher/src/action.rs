//! One action of the launcher (the configs sharing an `identifier`): the items it offers on
//! `ftrack.action.discover` and what it does on `ftrack.action.launch`.

use super::*;

/// The configs sharing one `identifier`.
pub(crate) struct Action {
    pub(crate) identifier: String,
    pub(crate) applications: Vec<Application>,
    pub(crate) shared: Arc<Shared>,
}

/// One config and, once asked for, its installed versions.
pub(crate) struct Application {
    pub(crate) config: LauncherConfig,
    pub(crate) offers: OnceLock<Vec<Offer>>,
}

/// One installed version, ready to be offered and launched.
pub(crate) struct Offer {
    pub(crate) path: PathBuf,
    pub(crate) version: String,
    pub(crate) label: String,
    pub(crate) variant: String,
    pub(crate) application_identifier: String,
    /// The `ftrack.action.discover` item.
    pub(crate) item: ActionItem,
    /// `data.application` of the launcher's events, shaped as ftrack's.
    pub(crate) application: Value,
}

impl Application {
    /// The installed versions, newest first: searched for on the first call, then kept.
    pub(crate) fn offers(&self, shared: &Shared) -> &[Offer] {
        self.offers.get_or_init(|| {
            let Some(search) = &self.config.search_path else {
                return Vec::new();
            };
            let installations = find_installations(search);
            tracing::debug!(
                "launcher config {}: {} installed versions",
                self.config.file.display(),
                installations.len()
            );
            installations
                .into_iter()
                .map(|installation| self.offer(installation, search, shared))
                .collect()
        })
    }

    pub(crate) fn offer(
        &self,
        installation: Installation,
        search: &SearchPath,
        shared: &Shared,
    ) -> Offer {
        let config = &self.config;
        let version = installation.version;
        let mut variant = fill(&config.variant, &version, "");
        if !config.integrations.is_empty() {
            // ftrack marks variants that come with integrations: `2024 [pipeline]`.
            let groups: Vec<&str> = config
                .integrations
                .iter()
                .map(|(g, _)| g.as_str())
                .collect();
            variant = format!("{variant} [{}]", groups.join(":"))
                .trim()
                .to_string();
        }
        let label = fill(&config.label, &version, &variant);
        let application_identifier = fill(&config.application_identifier, &version, &variant);
        let description = config
            .description
            .as_deref()
            .map(|text| fill(text, &version, &variant));
        let icon = icon_url(&config.icon, &shared.identity.server_url);
        let integrations: Map<String, Value> = config
            .integrations
            .iter()
            .map(|(group, names)| (group.clone(), json!(names)))
            .collect();
        let mut extra = Map::new();
        extra.insert("icon".into(), json!(icon));
        extra.insert(
            "applicationIdentifier".into(),
            json!(application_identifier),
        );
        extra.insert("version".into(), json!(version));
        if !integrations.is_empty() {
            extra.insert("integrations".into(), Value::Object(integrations.clone()));
        }
        extra.insert("host".into(), json!(shared.hostname));
        let item = ActionItem {
            label: label.clone(),
            action_identifier: config.identifier.clone(),
            variant: (!variant.is_empty()).then(|| variant.clone()),
            description: description.clone(),
            extra,
        };
        let application = json!({
            "identifier": application_identifier,
            "path": installation.path.to_string_lossy(),
            "launchArguments": search.launch_arguments,
            "version": version,
            "label": label,
            "icon": icon,
            "variant": variant,
            "description": description,
            "integrations": integrations,
        });
        Offer {
            path: installation.path,
            version,
            label,
            variant,
            application_identifier,
            item,
            application,
        }
    }
}

impl Offer {
    /// `Maya 2024`, for messages.
    pub(crate) fn display_name(&self) -> String {
        if self.variant.is_empty() {
            self.label.clone()
        } else {
            format!("{} {}", self.label, self.variant)
        }
    }
}

/// `data.selection` of an action event; empty when missing or not a list.
pub(crate) fn selection(data: &Value) -> &[Value] {
    data.get("selection")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The context ftrack's launcher hands to hooks and to the program: the action event's data
/// with its `source`.
pub(crate) fn launch_context(event: &Event) -> Value {
    let mut context = match &event.data {
        Value::Object(data) => data.clone(),
        _ => Map::new(),
    };
    context.insert(
        "source".into(),
        Value::Object(event.source.clone().into_map()),
    );
    Value::Object(context)
}

impl Action {
    pub(crate) fn discover(&self, event: &Event) -> Value {
        let selection = selection(&event.data);
        let mut context = None;
        let mut offers: Vec<&Offer> = Vec::new();
        for application in &self.applications {
            if !application.config.context.accepts(selection) {
                continue;
            }
            for offer in application.offers(&self.shared) {
                if !application.config.integrations.is_empty() {
                    let context = context.get_or_insert_with(|| launch_context(event));
                    if !self.integrations_available(application, offer, context) {
                        continue;
                    }
                }
                offers.push(offer);
            }
        }
        if offers.is_empty() {
            return Value::Null;
        }
        if self.applications.len() > 1 {
            // Versions from several configs of one action, merged newest first.
            offers.sort_by(|a, b| search::newest_first(&a.version, &b.version));
        }
        let items = ActionItems {
            items: offers.iter().map(|offer| offer.item.clone()).collect(),
        };
        serde_json::to_value(items).expect("action items are JSON")
    }

    /// Whether every integration group the config names is complete: each of its
    /// integrations answers `ftrack.connect.application.discover` (and does not disable
    /// itself).
    pub(crate) fn integrations_available(
        &self,
        application: &Application,
        offer: &Offer,
        context: &Value,
    ) -> bool {
        let Some(hub) = self.shared.hub.upgrade() else {
            return false;
        };
        let mut event = Event::new(topics::APPLICATION_DISCOVER).with_data(json!({
            "application": offer.application,
            "context": context,
            "platform": self.shared.platform,
        }));
        let results = hub.publish(&mut event);
        let available: HashSet<&str> = results
            .iter()
            .filter_map(|result| result.get("integration"))
            .filter(|integration| integration.get("disable") != Some(&Value::Bool(true)))
            .filter_map(|integration| integration.get("name")?.as_str())
            .collect();
        let missing: Vec<&str> = application
            .config
            .integrations
            .iter()
            .flat_map(|(_, names)| names)
            .map(String::as_str)
            .filter(|name| !available.contains(name))
            .collect();
        if !missing.is_empty() {
            tracing::debug!(
                "{} not offered: integrations {missing:?} did not answer {}",
                offer.display_name(),
                topics::APPLICATION_DISCOVER
            );
        }
        missing.is_empty()
    }

    /// The version a launch event asks for: by `applicationIdentifier` (a trailing `*`
    /// matches a prefix, as in ftrack), preferring the one with the event's `version`.
    pub(crate) fn find(
        &self,
        requested: &str,
        version: Option<&str>,
    ) -> Option<(&Application, &Offer)> {
        let matches = |offer: &Offer| match requested.strip_suffix('*') {
            Some(prefix) => offer.application_identifier.starts_with(prefix),
            None => offer.application_identifier == requested,
        };
        let candidates = || {
            self.applications.iter().flat_map(|application| {
                application
                    .offers(&self.shared)
                    .iter()
                    .filter(|offer| matches(offer))
                    .map(move |offer| (application, offer))
            })
        };
        version
            .and_then(|version| candidates().find(|(_, offer)| offer.version == version))
            .or_else(|| candidates().next())
    }

    pub(crate) fn launch(&self, event: &Event) -> ActionReply {
        let failure = |message: String| {
            tracing::warn!("{message}");
            ActionReply::new(false, message)
        };
        let requested = event
            .data
            .get("applicationIdentifier")
            .and_then(Value::as_str);
        let version = event.data.get("version").and_then(Value::as_str);
        let Some((application, offer)) = requested.and_then(|r| self.find(r, version)) else {
            let known: Vec<&str> = self
                .applications
                .iter()
                .flat_map(|application| application.offers(&self.shared))
                .map(|offer| offer.application_identifier.as_str())
                .collect();
            let known = if known.is_empty() {
                "none is installed".to_string()
            } else {
                format!("installed: {}", known.join(", "))
            };
            return failure(match requested {
                Some(requested) => format!(
                    "{requested} application not found for action {} ({known})",
                    self.identifier
                ),
                None => format!(
                    "action {}: the launch names no applicationIdentifier ({known})",
                    self.identifier
                ),
            });
        };
        if !application.config.context.accepts(selection(&event.data)) {
            return failure(format!(
                "{} is not offered for this selection (it needs {})",
                offer.display_name(),
                application.config.context.describe()
            ));
        }
        match launch::start(
            &self.shared,
            &application.config,
            offer,
            launch_context(event),
        ) {
            Ok(pid) => {
                tracing::info!(
                    "{} started from {} (pid {pid})",
                    offer.display_name(),
                    offer.path.display()
                );
                ActionReply::new(
                    true,
                    format!("{} application started.", offer.display_name()),
                )
            }
            Err(reason) => failure(format!(
                "{} application could not be started: {reason}",
                offer.display_name()
            )),
        }
    }
}

pub(crate) struct DiscoverHandler(pub(crate) Arc<Action>);

/// Reads the event only: the dispatch's shared event forms stay valid for the handlers after.
impl Handler for DiscoverHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        Ok(Reply::Json(self.0.discover(call.event())))
    }
}

pub(crate) struct LaunchHandler(pub(crate) Arc<Action>);

impl Handler for LaunchHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        // An item discovered on another machine (the web UI asks every Connect of the user)
        // is that machine's to launch.
        if let Some(host) = call.event().data.get("host").and_then(Value::as_str) {
            if host != self.0.shared.hostname {
                return Ok(Reply::Json(Value::Null));
            }
        }
        call.stop();
        let reply = self.0.launch(call.event());
        Ok(Reply::Json(
            serde_json::to_value(reply).expect("replies are JSON"),
        ))
    }
}

/// Fills a config template as ftrack's Python `str.format` does with the keys it passes:
/// `{version}` and `{variant}` are replaced, `{{` and `}}` are braces, anything else stays.
pub(crate) fn fill(template: &str, version: &str, variant: &str) -> String {
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        filled.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (text, used) = [
            ("{{", "{"),
            ("}}", "}"),
            ("{version}", version),
            ("{variant}", variant),
        ]
        .into_iter()
        .find(|(pattern, _)| tail.starts_with(pattern))
        .map_or((&tail[..1], 1), |(pattern, value)| (value, pattern.len()));
        filled.push_str(text);
        rest = &tail[used..];
    }
    filled.push_str(rest);
    filled
}

/// The icons ftrack's server hosts under `/application_icons/`, by the names configs use.
pub(crate) const SERVER_ICONS: &[(&str, &str)] = &[
    ("hiero", "hiero.png"),
    ("hieroplayer", "hieroplayer.png"),
    ("nukex", "nukex.png"),
    ("nuke", "nuke.png"),
    ("nuke_studio", "nuke_studio.png"),
    ("premiere", "premiere.png"),
    ("maya", "maya.png"),
    ("cinesync", "cinesync.png"),
    ("photoshop", "photoshop.png"),
    ("prelude", "prelude.png"),
    ("after_effects", "after_effects.png"),
    ("3ds_max", "3ds_max.png"),
    ("cinema_4d", "cinema_4d.png"),
    ("indesign", "indesign.png"),
    ("illustrator", "illustrator.png"),
    ("houdini", "houdini.png"),
    ("unreal-engine", "unreal_engine.png"),
    ("unity", "unity.png"),
    ("rv", "rv.png"),
    ("harmony", "harmony.png"),
];

/// A known icon name becomes its URL on the server (when a server is known), as ftrack's
/// launcher does; anything else (a URL, `default`) is passed on as written.
pub(crate) fn icon_url(icon: &str, server_url: &str) -> String {
    match SERVER_ICONS.iter().find(|(name, _)| *name == icon) {
        Some((_, file)) if !server_url.is_empty() => format!(
            "{}/application_icons/{file}",
            server_url.trim_end_matches('/')
        ),
        _ => icon.to_string(),
    }
}

/// Whether `path` is a folder (a macOS `.app` bundle is launched with `open`).
pub(crate) fn is_bundle(path: &Path) -> bool {
    path.is_dir()
}
