//! A native pipeline plugin (ftrack's pipeline framework): `studio_naming_publisher_validator`,
//! a publisher validator a studio puts in a definition's validator stage. It refuses a
//! collected file whose name has a space or no version (`_v` and digits, `plate_v001.exr`),
//! naming the file, so the artist hears why before anything is published.
//!
//! It is also the template of a native pipeline plugin: `session.pipeline_plugin(type, name,
//! fn)`, the function given the call (`data`: the step's collector results) and returning the
//! plugin's value, or `PluginFailure::Refused` with the reason.

use connect_plugin_api::author::{json, Error, PluginCall, PluginFailure, Session, Value};
use connect_plugin_api::pipeline::collected_values;

/// Why `path`'s file name breaks the rule, if it does.
fn naming_problem(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if name.contains(' ') {
        return Some(format!("{name}: a published file name has no spaces"));
    }
    let versioned = name.split("_v").skip(1).any(|rest| {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits >= 2
    });
    (!versioned)
        .then(|| format!("{name}: a published file name has a version, as in plate_v001.exr"))
}

fn validate(call: &PluginCall) -> Result<Value, PluginFailure> {
    let paths = collected_values(&call.data);
    for path in paths.iter().filter_map(Value::as_str) {
        if let Some(problem) = naming_problem(path) {
            return Err(PluginFailure::Refused(problem));
        }
    }
    Ok(json!(true))
}

fn register(session: &Session) -> Result<(), Error> {
    session.pipeline_plugin(
        "publisher.validator",
        "studio_naming_publisher_validator",
        |call, _event| validate(call),
    )?;
    Ok(())
}

connect_plugin_api::export_plugin!(register);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_a_version_and_no_space() {
        assert_eq!(naming_problem("/r/plate_v001.exr"), None);
        assert!(naming_problem("/r/plate final_v001.exr")
            .unwrap()
            .contains("no spaces"));
        assert!(naming_problem("/r/plate.exr")
            .unwrap()
            .contains("has a version"));
        assert!(naming_problem("C:\\r\\plate_v1.exr").is_some());
    }
}
