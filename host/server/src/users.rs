//! API users: who may call the server, each with an API key the server keeps only as a
//! SHA-256 hash.
//!
//! A key is 244 random bits from the OS generator, so a fast hash is enough (there is nothing
//! to brute-force); it is shown once, when made, and never logged. `ftrack-connect server user
//! add NAME` makes one, with or without a server running on the data folder: SQLite lets the
//! two processes share the file.

use sha2::{Digest, Sha256};

pub use crate::store::ApiUser;
use crate::store::{Database, DbError};

/// Why a user could not be added or removed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is not one ftrack would take.
    #[error("{0:?} is not a user name: use 1 to 128 characters, no spaces or control characters")]
    BadName(String),
    /// There is one already.
    #[error("there is already a user {0:?} (remove it first to make a new key)")]
    Exists(String),
    /// The database refused.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Adds `username` with a new API key, and returns the key (the only time it is seen).
pub fn add(db: &Database, username: &str) -> Result<String, UserError> {
    if !valid_name(username) {
        return Err(UserError::BadName(username.to_string()));
    }
    let key = new_key();
    if !db.insert_user(username, &hash(&key), &now_utc())? {
        return Err(UserError::Exists(username.to_string()));
    }
    Ok(key)
}

/// Every API user, by name.
pub fn list(db: &Database) -> Result<Vec<ApiUser>, UserError> {
    Ok(db.api_users()?)
}

/// Removes `username`; `false` when there was none.
pub fn remove(db: &Database, username: &str) -> Result<bool, UserError> {
    Ok(db.delete_user(username)?)
}

/// Whether `key` is one of `username`'s API keys.
pub fn verify(db: &Database, username: &str, key: &str) -> Result<bool, DbError> {
    let stored = db.key_hashes(username)?;
    let given = hash(key);
    // Every key is compared, so timing does not tell which matched.
    Ok(stored
        .iter()
        .fold(false, |found, stored| found | same(stored, &given)))
}

/// Gives the existing user `username` one more API key, named `label` (a browser sign-in's
/// client); returns it. `None` when there is no such user.
pub fn add_key(db: &Database, username: &str, label: &str) -> Result<Option<String>, UserError> {
    let key = new_key();
    let added = db.insert_key(username, &hash(&key), label, &now_utc())?;
    Ok(added.then_some(key))
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.chars().count())
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// 244 random bits, as hex (two uuid v4s).
fn new_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Now, as ISO 8601 UTC to the second, computed without a date library.
pub(crate) fn now_utc() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_shown_once_kept_hashed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let key = add(&db, "alice").unwrap();
        assert_eq!(key.len(), 64);
        assert!(verify(&db, "alice", &key).unwrap());
        assert!(!verify(&db, "alice", "wrong").unwrap());
        assert!(!verify(&db, "bob", &key).unwrap());
        let stored = db.key_hashes("alice").unwrap();
        assert_eq!(stored, [hash(&key)], "the key's hash is kept");
        assert!(!stored.contains(&key), "never the key itself");
        assert!(matches!(add(&db, "alice"), Err(UserError::Exists(_))));
        assert!(matches!(add(&db, "a b"), Err(UserError::BadName(_))));
        assert_eq!(list(&db).unwrap()[0].username, "alice");
        let second = add_key(&db, "alice", "ftrack-connect-alice@box")
            .unwrap()
            .unwrap();
        assert!(verify(&db, "alice", &second).unwrap() && verify(&db, "alice", &key).unwrap());
        assert_eq!(add_key(&db, "nobody", "x").unwrap(), None);
        assert!(remove(&db, "alice").unwrap());
        assert!(
            !verify(&db, "alice", &second).unwrap(),
            "its keys go with the user"
        );
        assert!(!remove(&db, "alice").unwrap());
        assert!(!verify(&db, "alice", &key).unwrap());
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_426), (2025, 12, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
