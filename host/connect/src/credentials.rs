//! Who the host acts for: the signed-in ftrack user, or the local user when nobody signed in.
//!
//! Connect keeps sign-ins in `credentials.json` in its user data directory, shaped
//! `{"accounts": [{"server_url", "api_user", "api_key"}]}`. The first account is the signed-in
//! one. Without it, the user is `FTRACK_API_USER` (with `FTRACK_SERVER`), else the OS user name.
//! The API key is held in [`ApiKey`], whose `Debug` never shows it, so it cannot reach a log.

use std::path::{Path, PathBuf};

use connect_core::{ApiKey, Identity};
use serde::Deserialize;

#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(default)]
    accounts: Vec<Account>,
}

#[derive(Deserialize)]
struct Account {
    server_url: String,
    api_user: String,
    #[serde(default)]
    api_key: Option<ApiKey>,
}

/// The path of Connect's credentials file in `data_dir`.
pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials.json")
}

/// Reads the identity: `credentials.json` in `data_dir` if it holds an account, else the
/// environment. A malformed file is reported (with line and column) and ignored.
pub fn current(data_dir: &Path) -> Identity {
    let path = credentials_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<CredentialsFile>(&text) {
            Ok(file) => {
                warn_if_readable_by_others(&path);
                if let Some(account) = file.accounts.into_iter().next() {
                    return Identity {
                        api_user: account.api_user,
                        server_url: account.server_url,
                        api_key: account.api_key,
                        signed_in: true,
                    };
                }
            }
            Err(err) => tracing::warn!(
                "ignoring {}: not valid credentials at line {}, column {}: {}",
                path.display(),
                err.line(),
                err.column(),
                // serde's message may quote file content; keep only its category.
                match err.classify() {
                    serde_json::error::Category::Syntax => "syntax error",
                    serde_json::error::Category::Data => "unexpected shape",
                    serde_json::error::Category::Eof => "unexpected end of file",
                    serde_json::error::Category::Io => "read error",
                }
            ),
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!("cannot read {}: {err}", path.display()),
    }
    Identity {
        api_user: std::env::var("FTRACK_API_USER")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(os_user_name),
        server_url: std::env::var("FTRACK_SERVER").unwrap_or_default(),
        api_key: std::env::var("FTRACK_API_KEY").ok().map(ApiKey::new),
        signed_in: false,
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "{} holds an API key but other users can read it: run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// The OS account name of this process.
pub fn os_user_name() -> String {
    #[cfg(unix)]
    {
        // The password database is right even where $USER is unset (services, CI, sudo).
        // SAFETY: getpwuid returns a pointer to static storage or null; we copy out at once.
        unsafe {
            let entry = libc::getpwuid(libc::geteuid());
            if !entry.is_null() && !(*entry).pw_name.is_null() {
                let name = std::ffi::CStr::from_ptr((*entry).pw_name);
                return name.to_string_lossy().into_owned();
            }
        }
    }
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_never_prints() {
        let key = ApiKey::new("s3cr3t");
        assert_eq!(format!("{key:?}"), "***");
        let identity = Identity {
            api_user: "a".into(),
            server_url: "s".into(),
            api_key: Some(key),
            signed_in: true,
        };
        assert!(!format!("{identity:?}").contains("s3cr3t"));
    }

    #[test]
    fn signed_in_account_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            credentials_path(dir.path()),
            r#"{"accounts": [{"server_url": "https://x.ftrackapp.com", "api_user": "jane", "api_key": "k"}]}"#,
        )
        .unwrap();
        let identity = current(dir.path());
        assert_eq!(identity.api_user, "jane");
        assert_eq!(identity.server_url, "https://x.ftrackapp.com");
        assert!(identity.signed_in);
        assert_eq!(identity.api_key.unwrap().expose(), "k");
    }

    #[test]
    fn malformed_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(credentials_path(dir.path()), "{not json").unwrap();
        assert!(!current(dir.path()).signed_in);
    }
}
