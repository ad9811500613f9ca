//! ftrack's `StandardStructure`: where a component's files go below a disk location's
//! prefix, so that `ftrack_api` (`location.get_filesystem_path`) finds what this publisher
//! wrote: `<project>/<parents...>/<asset>/v<version, 3 digits>/<component><ext>`, a
//! sequence `<component>.%04d<ext>` with members `<component>.<index><ext>`. Each part is
//! made safe as ftrack makes it: NFKD, ASCII only, anything but letters, digits, `_`, `.`
//! and `-` replaced by `_`, lower case.

use unicode_normalization::UnicodeNormalization;

/// What a version's path is made of.
#[derive(Debug, Clone)]
pub struct VersionPlace {
    /// The project's name (not its full name).
    pub project: String,
    /// The names of the contexts between the project and the asset, top first.
    pub parents: Vec<String>,
    /// The asset's name.
    pub asset: String,
    /// The version's number.
    pub version: u64,
}

impl VersionPlace {
    /// `project/parents.../asset/v003`, each part made safe.
    pub fn folder(&self) -> String {
        let mut parts = vec![sanitise(&self.project)];
        parts.extend(self.parents.iter().map(|p| sanitise(p)));
        parts.push(sanitise(&self.asset));
        parts.push(format!("v{:03}", self.version));
        parts.join("/")
    }

    /// A file component's resource identifier.
    pub fn file(&self, name: &str, file_type: &str) -> String {
        format!(
            "{}/{}",
            self.folder(),
            sanitise(&format!("{name}{file_type}"))
        )
    }

    /// A sequence's resource identifier (`.../beauty.%04d.exr`).
    pub fn sequence(&self, name: &str, padding: usize, file_type: &str) -> String {
        let expression = match padding {
            0 => "%d".to_string(),
            width => format!("%0{width}d"),
        };
        format!(
            "{}/{}.{expression}{}",
            self.folder(),
            sanitise(name),
            sanitise(file_type)
        )
    }

    /// A sequence member's resource identifier (`.../beauty.0001.exr`).
    pub fn member(&self, sequence: &str, member: &str, file_type: &str) -> String {
        format!(
            "{}/{}",
            self.folder(),
            sanitise(&format!("{sequence}.{member}{file_type}"))
        )
    }
}

/// A name made safe for a file system, as `StandardStructure.sanitise_for_filesystem`.
pub fn sanitise(value: &str) -> String {
    let ascii: String = value.nfkd().filter(char::is_ascii).collect();
    let replaced: String = ascii
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_ftrack_api_makes_them() {
        // The same as `ftrack_api.structure.standard.StandardStructure` gave for these.
        let place = VersionPlace {
            project: "p1".into(),
            parents: vec!["sq".into(), "sh010".into()],
            asset: "beauty".into(),
            version: 2,
        };
        assert_eq!(
            place.sequence("Beauty Pass", 4, ".exr"),
            "p1/sq/sh010/beauty/v002/beauty_pass.%04d.exr"
        );
        assert_eq!(
            place.member("Beauty Pass", "0001", ".exr"),
            "p1/sq/sh010/beauty/v002/beauty_pass.0001.exr"
        );
        assert_eq!(
            place.file("Movie", ".mov"),
            "p1/sq/sh010/beauty/v002/movie.mov"
        );
        assert_eq!(sanitise("Été / Ñandú: 1"), "ete___nandu__1");
    }
}
