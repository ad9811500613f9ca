//! A native plugin that answers `ftrack.connect.plugin.debug-information` (Connect's About
//! dialog, and `ftrack-connect event publish ftrack.connect.plugin.debug-information`) with
//! the facts support staff ask for first: host name, OS, CPU count, who is signed in where.
//!
//! It is also the smallest template for a native plugin: one `register` function, one
//! handler closure, one `export_plugin!`.

use connect_plugin_api::author::{json, Error, Session};

fn register(session: &Session) -> Result<(), Error> {
    // Read once: the session does not change while the plugin is loaded.
    let user = session.api_user();
    let server = session.server_url();
    session.subscribe(
        "topic=ftrack.connect.plugin.debug-information",
        move |_event| {
            Ok(json!({
                "name": "machine-info",
                "version": env!("CARGO_PKG_VERSION"),
                "debug_information": {
                    "hostname": gethostname::gethostname().to_string_lossy(),
                    "os": std::env::consts::OS,
                    "arch": std::env::consts::ARCH,
                    "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
                    "user": user,
                    "server": server,
                }
            }))
        },
    )?;
    Ok(())
}

connect_plugin_api::export_plugin!(register);
