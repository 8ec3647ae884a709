//! Hashing of stored secrets (app client secrets, user passwords). Allot is a development and
//! test server, not an identity provider: a salted SHA-256 keeps secrets out of the database in
//! clear text while staying fast enough to mint thousands of tokens in a test run.

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `salt` and `secret`. The salt is the object's id, so the same secret on two
/// objects hashes differently and re-applying a tenant file reproduces the same hash.
#[must_use]
pub fn hash_secret(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Compares in time independent of where the strings differ.
#[must_use]
pub fn verify_secret(salt: &str, secret: &str, stored: &str) -> bool {
    let computed = hash_secret(salt, secret);
    computed.len() == stored.len()
        && computed
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_the_secret_and_nothing_else() {
        let h = hash_secret("id-1", "s3cret");
        assert!(verify_secret("id-1", "s3cret", &h));
        assert!(!verify_secret("id-1", "s3cret!", &h));
        assert!(!verify_secret("id-2", "s3cret", &h));
        assert_ne!(hash_secret("id-1", "a"), hash_secret("id-2", "a"));
    }
}
