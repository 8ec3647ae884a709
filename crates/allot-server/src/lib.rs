//! The `allot` server: Microsoft Graph licensing API (v1.0 and beta), Allot's token issuer and
//! admin API, over `allot-store`. `main.rs` only parses the command line and calls [`cli::run`].

pub mod admin;
pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod console;
pub mod context;
pub mod fairness;
pub mod graph;
pub mod head_guard;
pub mod operations;
pub mod ops;
pub mod partner;
pub mod serve;
pub mod state;
pub mod throttle;
pub mod tls;
pub mod worker;
