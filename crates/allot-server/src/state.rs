//! What every handler shares: the store, the token service and the configuration.

use std::sync::Arc;

use allot_store::Store;

use crate::auth::tokens::TokenService;
use crate::config::Config;
use crate::operations::Operations;
use crate::worker::Worker;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: Arc<TokenService>,
    pub config: Arc<Config>,
    /// SHA-256 of the admin key (`sha256:<hex>`).
    pub admin_key_hash: Arc<String>,
    pub worker: Arc<Worker>,
    /// Every license-relevant change goes through here (commit, then the post-commit work).
    pub operations: Operations,
    /// Turns of expensive requests per caller and in all (`fairness.rs`).
    pub fairness: Arc<crate::fairness::Fairness>,
    /// 429s armed through the admin API.
    pub throttles: Arc<crate::throttle::Throttles>,
}
