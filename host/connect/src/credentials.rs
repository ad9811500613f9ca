//! Who the host acts for: the signed-in ftrack user, or the local user when nobody signed in.
//!
//! As `ftrack_api` does, `FTRACK_SERVER`, `FTRACK_API_USER` and `FTRACK_API_KEY` come first
//! when the server and the key are set. Else Connect's sign-in: `credentials.json` in its user
//! data directory, shaped `{"id", "accounts": [{"server_url", "api_user", "api_key"}]}`, the
//! first account being the signed-in one. Without either, nobody is signed in: the user is
//! `FTRACK_API_USER`, else the OS user name (and `run` serves the local server).
//! The API key is held in [`ApiKey`], whose `Debug` never shows it, so it cannot reach a log.

use std::path::{Path, PathBuf};

use connect_core::{ApiKey, Identity};

use crate::locations::write_private;
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

/// Reads the identity: the environment when it names a server and a key, else
/// `credentials.json` in `data_dir` if it holds an account, else the local user. A malformed
/// file is reported (with line and column) and ignored.
pub fn current(data_dir: &Path) -> Identity {
    if let Some(identity) = from_environment() {
        return identity;
    }
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

/// The sign-in `ftrack_api` reads: `FTRACK_SERVER` and `FTRACK_API_KEY` (with
/// `FTRACK_API_USER`, else the OS user), when both are set.
fn from_environment() -> Option<Identity> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (server_url, key) = (set("FTRACK_SERVER")?, set("FTRACK_API_KEY")?);
    Some(Identity {
        api_user: set("FTRACK_API_USER").unwrap_or_else(os_user_name),
        server_url,
        api_key: Some(ApiKey::new(key)),
        signed_in: false,
    })
}

/// Stores a sign-in as Connect does: the account first in `credentials.json`
/// (`{"id", "accounts": [{"server_url", "api_user", "api_key"}]}`), other accounts kept after
/// it, the machine `id` kept (or made). Written through a temporary file and a rename, `0600`.
pub fn store(
    data_dir: &Path,
    server_url: &str,
    api_user: &str,
    key: &ApiKey,
) -> std::io::Result<PathBuf> {
    let path = credentials_path(data_dir);
    let mut file: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let id = file
        .get("id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut accounts = vec![serde_json::json!({
        "server_url": server_url, "api_user": api_user, "api_key": key.expose(),
    })];
    if let Some(serde_json::Value::Array(old)) = file.remove("accounts") {
        accounts.extend(old.into_iter().filter(|a| {
            a.get("server_url").and_then(serde_json::Value::as_str) != Some(server_url)
                || a.get("api_user").and_then(serde_json::Value::as_str) != Some(api_user)
        }));
    }
    file.insert("id".into(), serde_json::Value::String(id));
    file.insert("accounts".into(), serde_json::Value::Array(accounts));
    write_private(
        &path,
        serde_json::Value::Object(file).to_string().as_bytes(),
    )?;
    Ok(path)
}

/// A bare site name becomes its ftrack cloud address, as Connect does; an address loses
/// its trailing `/`.
pub fn site_url(server: &str) -> String {
    if server.contains("://") || server.contains('.') || server.contains(':') {
        server.trim_end_matches('/').to_string()
    } else {
        format!("https://{server}.ftrackapp.com")
    }
}

/// Whether `user` and `key` sign in to `server` (one API call); why not, for the user.
pub async fn try_key(server: &str, user: &str, key: &ApiKey) -> Result<(), String> {
    let client = connect_ftrack_api::Client::new(server, user, key.clone())
        .map_err(|err| err.to_string())?;
    client
        .server_information()
        .await
        .map(|_| ())
        .map_err(|err| format!("signing in to {server} as {user} failed: {err}"))
}

/// Signs out as Connect does (no accounts left); the account that was signed in, if any.
pub fn remove(data_dir: &Path) -> std::io::Result<Option<(String, String)>> {
    let path = credentials_path(data_dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut file: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_default();
    let signed_in = file.get("accounts").and_then(|a| a.get(0)).map(|a| {
        let text = |k: &str| {
            a.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        (text("server_url"), text("api_user"))
    });
    file.insert("accounts".into(), serde_json::Value::Array(Vec::new()));
    write_private(
        &path,
        serde_json::Value::Object(file).to_string().as_bytes(),
    )?;
    Ok(signed_in)
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
    fn a_sign_in_is_stored_first_privately_and_a_sign_out_empties_the_accounts() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "http://a", "jane", &ApiKey::new("k1")).unwrap();
        store(dir.path(), "http://b", "joe", &ApiKey::new("k2")).unwrap();
        let path = store(dir.path(), "http://a", "jane", &ApiKey::new("k3")).unwrap();
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(file["id"].is_string());
        let accounts = file["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 2, "{file}");
        assert_eq!(accounts[0]["api_key"], "k3");
        assert_eq!(current(dir.path()).api_user, "jane");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            remove(dir.path()).unwrap(),
            Some(("http://a".into(), "jane".into()))
        );
        assert!(!current(dir.path()).signed_in);
        let id_kept: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(id_kept["id"], file["id"]);
    }

    #[test]
    fn malformed_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(credentials_path(dir.path()), "{not json").unwrap();
        assert!(!current(dir.path()).signed_in);
    }
}
