//! API users as the database keeps them: a user name, the SHA-256 hash of the key made with
//! the user (`api_user`), and any number of further keys (`api_key`, one per browser
//! sign-in, removed with their user). Making keys, hashing and checking them is `crate::users`'
//! business; this is only where the hashes are kept.

use rusqlite::params;

use super::{Database, DbError};

/// One API user, as `server user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUser {
    /// The user name (`ftrack-user`).
    pub username: String,
    /// When the user was made (UTC, ISO 8601).
    pub created: String,
}

impl Database {
    /// Adds `username` with the key hash `key_hash`; `false` when there is one already.
    pub(crate) fn insert_user(
        &self,
        username: &str,
        key_hash: &str,
        created: &str,
    ) -> Result<bool, DbError> {
        let added = self
            .lock()
            .execute(
                "INSERT INTO api_user (username, key_hash, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT (username) DO NOTHING",
                params![username, key_hash, created],
            )
            .map_err(|e| self.error(e))?;
        Ok(added > 0)
    }

    /// Every API user, by name.
    pub(crate) fn api_users(&self) -> Result<Vec<ApiUser>, DbError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT username, created FROM api_user ORDER BY username")
            .map_err(|e| self.error(e))?;
        let users = statement
            .query_map([], |row| {
                Ok(ApiUser {
                    username: row.get(0)?,
                    created: row.get(1)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.error(e))?;
        Ok(users)
    }

    /// Removes `username` and all its keys; `false` when there was no such user.
    pub(crate) fn delete_user(&self, username: &str) -> Result<bool, DbError> {
        let removed = self
            .lock()
            .execute("DELETE FROM api_user WHERE username = ?1", [username])
            .map_err(|e| self.error(e))?;
        Ok(removed > 0)
    }

    /// The hashes of all of `username`'s keys (none for an unknown user).
    pub(crate) fn key_hashes(&self, username: &str) -> Result<Vec<String>, DbError> {
        let connection = self.lock();
        // Cached: every request is authenticated through here.
        let mut statement = connection
            .prepare_cached(
                "SELECT key_hash FROM api_user WHERE username = ?1
                 UNION ALL SELECT key_hash FROM api_key WHERE username = ?1",
            )
            .map_err(|e| self.error(e))?;
        let hashes = statement
            .query_map([username], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| self.error(e))?;
        Ok(hashes)
    }

    /// Gives the existing user `username` one more key hash, named `label`; `false` when there
    /// is no such user.
    pub(crate) fn insert_key(
        &self,
        username: &str,
        key_hash: &str,
        label: &str,
        created: &str,
    ) -> Result<bool, DbError> {
        let added = self
            .lock()
            .execute(
                "INSERT INTO api_key (username, key_hash, label, created)
                 SELECT username, ?2, ?3, ?4 FROM api_user WHERE username = ?1",
                params![username, key_hash, label, created],
            )
            .map_err(|e| self.error(e))?;
        Ok(added > 0)
    }
}
