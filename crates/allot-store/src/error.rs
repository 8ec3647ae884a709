//! The store's error: what went wrong in storage terms, classified portably (never from
//! constraint names, which only PostgreSQL reports).

use allot_core::licensing::LicenseError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key would be duplicated; the text names which one.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A licensing rule refused the change; nothing was written.
    #[error(transparent)]
    License(#[from] LicenseError),
    /// A group license change was refused; nothing was written.
    #[error(transparent)]
    GroupLicense(#[from] allot_core::licensing::GroupLicenseError),
    /// The request is well-formed but not acceptable in this state (the text says why).
    #[error("{0}")]
    Invalid(String),
    /// SQLite busy or a PostgreSQL serialization failure / deadlock: safe to retry.
    #[error("database busy: {0}")]
    Busy(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("migration: {0}")]
    Migration(String),
    /// Stored data that does not decode (a corrupted row).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Db(sqlx::Error),
    /// The change ran but the transaction holding it did not commit (SQLite's group commit: the
    /// batch's commit failed); nothing of it was applied.
    #[error("not applied: {0}")]
    Unapplied(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected.
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and their extended codes).
            if let Some(code) = db.code() {
                let busy = matches!(
                    code.as_ref(),
                    "40001" | "40P01" | "5" | "6" | "261" | "262" | "517"
                );
                if busy {
                    return Self::Busy(db.message().to_owned());
                }
            }
            if db.is_unique_violation() {
                return Self::Conflict(unique_in_words(db.message()));
            }
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return Self::NotFound;
        }
        Self::Db(e)
    }
}

impl StoreError {
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy(_))
    }
}

/// A unique violation in words: the driver's text names tables and indexes, which no answer
/// should show.
fn unique_in_words(driver: &str) -> String {
    let m = driver.to_ascii_lowercase();
    let what = if m.contains("upn") {
        "a user with the same userPrincipalName"
    } else if m.contains("domain") {
        "a tenant with the same domain"
    } else if m.contains("group_members") {
        "the same membership"
    } else if m.contains("apps") || m.contains("client_id") {
        "an app with the same client id"
    } else if m.contains("license_assignments") {
        "the same license assignment"
    } else if m.contains("request_replays") {
        "a request with the same MS-RequestId"
    } else {
        "an object with the same key"
    };
    format!("{what} already exists")
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_violations_are_told_in_words() {
        assert_eq!(
            super::unique_in_words("UNIQUE constraint failed: users.tenant_id, users.upn_lower"),
            "a user with the same userPrincipalName already exists"
        );
        assert_eq!(
            super::unique_in_words("duplicate key value violates unique constraint \"x_pkey\""),
            "an object with the same key already exists"
        );
    }
}
