//! What a publish is asked to publish, read from disk: each component as `ftrack_api`'s
//! `create_component` makes it, before anything reaches the server.
//!
//! An identifier is a path (`/r/movie.mov`: a `FileComponent`) or a collection as clique
//! writes it (`/r/beauty.%04d.exr [1-2, 4]`: a `SequenceComponent` whose members are
//! `FileComponent`s named by their padded index, `0001`). Sizes are the files' (a sequence's,
//! its members' sum); the file type is the extension of the path (`.exr`; for a sequence,
//! of `/r/beauty.%04d.exr`). Names default as Connect's publisher names them: the part of
//! the file name before its first dot.

use std::path::{Path, PathBuf};

use connect_sequence::{parse, DEFAULT_FORMAT};

use crate::PublishError;

/// One component to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSource {
    /// Its name in the version (unique there).
    pub name: String,
    /// What it is made of.
    pub kind: SourceKind,
    /// `.exr`, `.mov`, or empty.
    pub file_type: String,
    /// Its size in bytes (a sequence: all its members').
    pub size: u64,
}

/// A single file, or a sequence of files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// One file.
    File {
        /// Where it is.
        path: PathBuf,
    },
    /// Numbered files.
    Sequence {
        /// `/r/beauty.%04d.exr`.
        pattern: String,
        /// `0` (unpadded) or the width of the numbers.
        padding: usize,
        /// Each member: its name (`0001`), its file, its size.
        members: Vec<Member>,
    },
}

/// A member of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its padded index, which names it (`0001`, or `1001` unpadded).
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

impl ComponentSource {
    /// Reads what `identifier` names (a path, or a collection as clique writes it), named
    /// `name` or as Connect names it. Every file must exist and be readable.
    pub fn read(identifier: &str, name: Option<&str>) -> Result<ComponentSource, PublishError> {
        let name = name.map_or_else(|| default_name(identifier), str::to_string);
        match parse(identifier, DEFAULT_FORMAT) {
            // A plain path: `ftrack_api` tells a file from a sequence the same way.
            Err(_) => {
                let path = PathBuf::from(identifier);
                let size = file_size(&path)?;
                Ok(ComponentSource {
                    name,
                    file_type: extension(identifier),
                    size,
                    kind: SourceKind::File { path },
                })
            }
            Ok(collection) => {
                if collection.indexes.is_empty() {
                    return Err(PublishError::Input(format!(
                        "{identifier}: a sequence without frames"
                    )));
                }
                let pattern = collection
                    .format("{head}{padding}{tail}")
                    .expect("a valid format");
                let mut members = Vec::with_capacity(collection.indexes.len());
                for index in &collection.indexes {
                    let path = PathBuf::from(collection.item(index));
                    let size = file_size(&path)?;
                    members.push(Member {
                        name: index.padded(collection.padding),
                        path,
                        size,
                    });
                }
                Ok(ComponentSource {
                    name,
                    file_type: extension(&pattern),
                    size: members.iter().map(|m| m.size).sum(),
                    kind: SourceKind::Sequence {
                        pattern,
                        padding: collection.padding,
                        members,
                    },
                })
            }
        }
    }

    /// The files it is made of, with their sizes.
    pub fn files(&self) -> Vec<(&Path, u64)> {
        match &self.kind {
            SourceKind::File { path } => vec![(path.as_path(), self.size)],
            SourceKind::Sequence { members, .. } => {
                members.iter().map(|m| (m.path.as_path(), m.size)).collect()
            }
        }
    }
}

/// Checks that no two components share a name (Connect lets it happen; the version then
/// has two components nobody can tell apart).
pub fn check_names(components: &[ComponentSource]) -> Result<(), PublishError> {
    for (at, component) in components.iter().enumerate() {
        if component.name.trim().is_empty() {
            return Err(PublishError::Input(format!(
                "component {} has no name: name it with --component NAME=PATH",
                at + 1
            )));
        }
        if let Some(other) = components[..at].iter().find(|c| c.name == component.name) {
            return Err(PublishError::Input(format!(
                "two components are named {:?} ({} and {}): name one otherwise with \
                 --component NAME=PATH",
                component.name,
                other.describe(),
                component.describe()
            )));
        }
    }
    Ok(())
}

impl ComponentSource {
    /// Where it comes from, for messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            SourceKind::File { path } => path.display().to_string(),
            SourceKind::Sequence {
                pattern, members, ..
            } => {
                format!("{pattern} ({} files)", members.len())
            }
        }
    }
}

/// Connect's component name: the file name up to its first dot (`/r/my.shot.%04d.exr` →
/// `my`); the whole identifier when the file name is empty.
pub fn default_name(identifier: &str) -> String {
    let base = identifier
        .rsplit(['/', std::path::MAIN_SEPARATOR])
        .next()
        .unwrap_or(identifier);
    if base.is_empty() {
        return identifier.to_string();
    }
    base.split('.').next().unwrap_or("").to_string()
}

/// `os.path.splitext(path)[1]`: the last dot's extension of the file name, not counting
/// leading dots (`.bashrc` has none).
fn extension(path: &str) -> String {
    let base = path
        .rsplit(['/', std::path::MAIN_SEPARATOR])
        .next()
        .unwrap_or(path);
    let stem_start = base.len() - base.trim_start_matches('.').len();
    match base[stem_start..].rfind('.') {
        Some(dot) => base[stem_start + dot..].to_string(),
        None => String::new(),
    }
}

fn file_size(path: &Path) -> Result<u64, PublishError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| PublishError::Input(format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(PublishError::Input(format!(
            "{} is not a file (folders are not published, as in Connect)",
            path.display()
        )));
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_extensions_as_connect_and_ftrack_api_make_them() {
        assert_eq!(default_name("/r/my.shot.v1.%04d.exr [1-2]"), "my");
        assert_eq!(default_name("/r/.hidden.0001.exr"), "");
        assert_eq!(default_name("/r/movie.mov"), "movie");
        assert_eq!(extension("/r/beauty.%04d.exr"), ".exr");
        assert_eq!(extension("/r/archive.tar.gz"), ".gz");
        assert_eq!(extension("/r/.bashrc"), "");
        assert_eq!(extension("/r/README"), "");
    }

    #[test]
    fn files_and_sequences_are_read_with_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for (name, size) in [
            ("b.0001.exr", 3),
            ("b.0002.exr", 4),
            ("b.0004.exr", 5),
            ("m.mov", 7),
        ] {
            std::fs::write(dir.path().join(name), vec![0u8; size]).unwrap();
        }
        let root = dir.path().display();
        let sequence = ComponentSource::read(&format!("{root}/b.%04d.exr [1-2, 4]"), None).unwrap();
        assert_eq!(sequence.name, "b");
        assert_eq!(sequence.size, 12);
        assert_eq!(sequence.file_type, ".exr");
        let SourceKind::Sequence {
            padding, members, ..
        } = &sequence.kind
        else {
            panic!("{sequence:?}")
        };
        assert_eq!(*padding, 4);
        let names: Vec<_> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["0001", "0002", "0004"]);
        let movie = ComponentSource::read(&format!("{root}/m.mov"), Some("review")).unwrap();
        assert_eq!((movie.name.as_str(), movie.size), ("review", 7));
        let missing = ComponentSource::read(&format!("{root}/b.%04d.exr [1-3]"), None);
        assert!(missing.unwrap_err().to_string().contains("b.0003.exr"));
        let twice = check_names(&[movie.clone(), movie]);
        assert!(twice
            .unwrap_err()
            .to_string()
            .contains("two components are named \"review\""));
    }
}
