//! Signing keys: RSA 2048 key pairs kept in the database (so every node signs and verifies with
//! the same keys), loaded into jsonwebtoken keys and published as a JWKS.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::json;

use allot_store::Store;

/// One key: its id, the private half for signing, the public half for verifying and publishing.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub n: String,
    pub e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("stored signing key {0} is not a valid RSA PKCS#8 key")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] allot_store::StoreError),
}

/// The keys of the database, creating the first one if there is none. Several nodes starting at
/// once may each insert a key; all of them are then valid and the newest signs.
pub async fn load_or_create(store: &Store) -> Result<Vec<SigningKey>, KeyError> {
    let mut rows = store.signing_keys().await?;
    if rows.is_empty() {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let der = pair.as_der().map_err(|_| KeyError::Generate)?;
        let kid = kid_for(pair.public_key().modulus().big_endian_without_leading_zero());
        store
            .insert_signing_key(&kid, &STANDARD.encode(der.as_ref()))
            .await?;
        rows = store.signing_keys().await?;
    }
    rows.iter().map(|(kid, der)| decode(kid, der)).collect()
}

/// A fresh key that is not stored anywhere (tests forge foreign-signed tokens with it).
pub fn generate() -> Result<SigningKey, KeyError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
    let der = pair.as_der().map_err(|_| KeyError::Generate)?;
    let kid = kid_for(pair.public_key().modulus().big_endian_without_leading_zero());
    decode(&kid, &STANDARD.encode(der.as_ref()))
}

fn decode(kid: &str, der_b64: &str) -> Result<SigningKey, KeyError> {
    let bad = || KeyError::Invalid(kid.to_owned());
    let pkcs8 = STANDARD.decode(der_b64).map_err(|_| bad())?;
    let pair = KeyPair::from_pkcs8(&pkcs8).map_err(|_| bad())?;
    let pkcs1 = pkcs1_from_pkcs8(&pkcs8).ok_or_else(bad)?;
    let public = pair.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|_| bad())?;
    Ok(SigningKey {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_rsa_der(pkcs1),
        decoding,
        n,
        e,
    })
}

/// The key id: a hash of the modulus, base64url, like Entra's `kid` values.
fn kid_for(modulus: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, modulus);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..20])
}

/// The JWKS document of `/{tenant}/discovery/v2.0/keys`.
#[must_use]
pub fn jwks(keys: &[SigningKey]) -> serde_json::Value {
    let keys: Vec<_> = keys
        .iter()
        .map(|k| json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e}))
        .collect();
    json!({ "keys": keys })
}

/// jsonwebtoken's RSA signer wants the PKCS#1 `RSAPrivateKey`; aws-lc-rs hands out PKCS#8, which
/// wraps it: `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING privateKey, ... }`.
fn pkcs1_from_pkcs8(der: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der_item(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_item(body)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, _, rest) = der_item(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, key, _) = der_item(rest)?;
    (tag == 0x04).then_some(key)
}

/// One DER item: `(tag, contents, rest)`.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_reader_refuses_truncated_input() {
        assert!(der_item(&[0x30]).is_none());
        assert!(der_item(&[0x30, 0x05, 0x01]).is_none());
        assert!(der_item(&[0x30, 0x85, 0, 0, 0, 0, 1]).is_none());
        assert!(pkcs1_from_pkcs8(&[0x04, 0x00]).is_none());
        assert_eq!(
            der_item(&[0x04, 0x01, 0xaa, 0xbb]),
            Some((0x04, &[0xaa][..], &[0xbb][..]))
        );
    }

    #[test]
    fn generated_keys_sign_and_verify() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = STANDARD.encode(pair.as_der().unwrap().as_ref());
        let key = decode("k1", &der).unwrap();
        let header = jsonwebtoken::Header {
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256)
        };
        let claims = json!({"sub": "x", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        let back = jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &v).unwrap();
        assert_eq!(back.claims["sub"], "x");
    }
}
