//! Allot as its own identity provider: signing keys, tokens, and the OAuth 2.0 / OpenID Connect
//! endpoints (token, discovery, JWKS) in Entra ID's shapes.

pub mod assertion;
pub mod discovery;
pub mod interactive;
pub mod keys;
pub mod oauth;
pub mod tokens;
