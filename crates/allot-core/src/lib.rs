//! Allot's licensing model: typed ids, the SKU catalog and its plan rules, the assignment rules,
//! and the tenant file. Nothing here knows about HTTP or SQL.

pub mod catalog;
pub mod directory;
pub mod ids;
pub mod licensing;
pub mod partner;
pub mod secret;
pub mod tenant_file;
pub mod text;
