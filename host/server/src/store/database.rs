//! The server's database: one SQLite file in the data folder, opened in WAL mode, its layout
//! brought up to date by numbered migrations.
//!
//! Why SQLite: the server runs on an artist's or developer's machine with nothing installed
//! (rusqlite bundles SQLite), and one file is easy to back up or throw away. WAL keeps readers
//! off the writer's back, and with `synchronous=NORMAL` a committed transaction survives the
//! process being killed (not a power cut: that would need `FULL`, at a cost on every commit).
//!
//! The rest of the server reaches the database through [`Database::transaction`], which hands
//! the work a [`Store`]: the connection itself never leaves the storage module (`super`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

use super::{ensure_indexes, schemas, seed, sql_error, Store};
use crate::error::ApiError;

/// The database file's name in the data folder.
pub const DATABASE_FILE: &str = "server.sqlite3";

/// The layout, one step per version; `PRAGMA user_version` is how many have run. Steps are
/// never edited once released: a change is a new step.
const MIGRATIONS: &[&str] = &[
    // 1: API users, and every entity as JSON with its type and primary key.
    "CREATE TABLE api_user (
         username TEXT PRIMARY KEY,
         key_hash TEXT NOT NULL,
         created TEXT NOT NULL
     );
     CREATE TABLE entity (
         type TEXT NOT NULL,
         pk TEXT NOT NULL,
         id TEXT,
         data TEXT NOT NULL,
         PRIMARY KEY (type, pk)
     );
     CREATE INDEX entity_by_id ON entity (id);",
    // 2: more keys per user (browser sign-ins each get their own, named after the client).
    "CREATE TABLE api_key (
         username TEXT NOT NULL REFERENCES api_user (username) ON DELETE CASCADE,
         key_hash TEXT NOT NULL,
         label TEXT NOT NULL,
         created TEXT NOT NULL
     );
     CREATE INDEX api_key_by_user ON api_key (username);",
];

/// Why the database could not be used: what and where.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The data folder could not be made or secured.
    #[error("cannot use the data folder {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("database {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was made by a newer server.
    #[error(
        "database {} has layout version {found}, newer than this server's {known}: use a newer ftrack-connect",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its layout version.
        found: usize,
        /// The newest this server knows.
        known: usize,
    },
}

/// The open database.
pub struct Database {
    connection: Mutex<Connection>,
    path: PathBuf,
}

impl Database {
    /// Opens (creating it if needed) the database in `folder`, which is made private
    /// (`0700`, the file `0600`: API key hashes and studio data are in it).
    pub fn open(folder: &Path) -> Result<Database, DbError> {
        let folder_error = |source| DbError::Folder {
            path: folder.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(folder).map_err(folder_error)?;
        private(folder, 0o700).map_err(folder_error)?;
        let path = folder.join(DATABASE_FILE);
        let sqlite = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let connection = Connection::open(&path).map_err(sqlite)?;
        private(&path, 0o600).map_err(folder_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(sqlite)?;
        migrate(&connection, &path)?;
        Ok(Database {
            connection: Mutex::new(connection),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes what the schema set the binary carries needs (the indexes of its foreign keys),
    /// and seeds a new database with what a fresh ftrack site has. Done once, before serving.
    pub fn prepare(&self) -> Result<(), DbError> {
        let mut connection = self.lock();
        ensure_indexes(&connection, schemas()).map_err(|e| self.error(e))?;
        seed::seed(&mut connection).map_err(|e| self.error(e))
    }

    /// Runs `work` in one transaction: what it wrote is kept if it returns `Ok`, and none of
    /// it if it fails. Entity URLs it computes (`thumbnail_url`) start with `server_url`.
    ///
    /// Transactions take the write lock from the start (`BEGIN IMMEDIATE`): one runs at a
    /// time in this process, and another process on the same file (`server user add`)
    /// waits for it rather than failing half-way.
    pub(crate) fn transaction<T, E: From<ApiError>>(
        &self,
        server_url: &str,
        work: impl FnOnce(&Store<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        let outcome = work(&Store::new(&transaction, server_url))?;
        transaction.commit().map_err(sql_error)?;
        Ok(outcome)
    }

    /// The connection, for one piece of work at a time (the storage module's own).
    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `DbError` for `source`, naming this database.
    pub(super) fn error(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

/// Runs the migrations the file has not had, each in a transaction of its own.
fn migrate(connection: &Connection, path: &Path) -> Result<(), DbError> {
    let sqlite = |source| DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(DbError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (done, step) in MIGRATIONS.iter().enumerate().skip(version) {
        let script = format!(
            "BEGIN IMMEDIATE; {step}; PRAGMA user_version = {}; COMMIT;",
            done + 1
        );
        connection.execute_batch(&script).map_err(sqlite)?;
        tracing::info!("database {}: layout version {}", path.display(), done + 1);
    }
    Ok(())
}

#[cfg(unix)]
fn private(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn private(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_migrated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("data");
        let db = Database::open(&folder).unwrap();
        let version: i64 = db
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        drop(db);
        // Opening again runs nothing and keeps the data.
        let db = Database::open(&folder).unwrap();
        db.lock()
            .execute("INSERT INTO api_user VALUES ('a', 'h', 'now')", [])
            .unwrap();
        drop(db);
        let db = Database::open(&folder).unwrap();
        let users: i64 = db
            .lock()
            .query_row("SELECT count(*) FROM api_user", [], |row| row.get(0))
            .unwrap();
        assert_eq!(users, 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&folder), 0o700);
            assert_eq!(mode(db.path()), 0o600);
        }
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Database::open(dir.path()).unwrap());
        let connection = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        connection
            .execute_batch("PRAGMA user_version = 999")
            .unwrap();
        drop(connection);
        let err = Database::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("layout version 999"), "{err}");
    }
}
