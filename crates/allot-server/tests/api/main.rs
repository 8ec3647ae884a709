//! End-to-end tests: the real server on a loopback port, driven over HTTP, each test on its own
//! fresh database (SQLite file or PostgreSQL schema) seeded with the demo tenant.

mod helpers;

mod admin;
mod assertions;
mod audit;
mod auth;
mod batch;
mod cli;
mod cloud_licensing;
mod connections;
mod console;
mod crash;
mod deleted;
mod delta;
mod errors;
mod expand;
mod group_licensing;
mod groups;
mod hostile;
mod licensing;
mod odata;
mod operations;
mod partner;
mod races;
mod scale;
mod sign_in;
mod skus;
mod users;
