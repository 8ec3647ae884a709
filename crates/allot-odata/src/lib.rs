//! Allot's OData query layer, without a database driver.
//!
//! - [`parser`]: `$filter` text to an [`ast::Expr`] (hand-written [`lexer`] plus a Pratt
//!   parser; the grammar is in the module docs), with [`parser::Limits`] against hostile input.
//! - [`options`]: `$select`, `$expand`, `$orderby`, `$top`, `$count`, `$search`.
//! - [`apply`]: `$apply` (`groupby`, `aggregate`) of the cloudLicensing allotments.
//! - [`ast`]: the typed tree and its printer (`Display` writes OData text back).
//! - [`cloud_schema`]: the beta cloudLicensing entities, over the store's SQL views of them.
//! - [`schema`]: per-entity property tables (type, operators and whether they need advanced
//!   query mode, SQL column or collection subquery).
//! - [`validate`]: tree plus schema to a typed [`validate::Cond`].
//! - [`sql`]: `Cond` to a `WHERE` fragment with bound parameters, per [`schema::Dialect`].
//! - [`error`]: errors with byte positions, and the Graph error each one becomes.
//!
//! ```
//! use allot_odata::{parse_filter, schema, sql, validate};
//! let e = parse_filter("assignedLicenses/any(x:x/skuId eq 184efa21-98c3-4e5d-95ab-d07053a96e67)").unwrap();
//! let (cond, _) = validate::validate_filter(&e, &schema::USERS, false).unwrap();
//! let f = sql::to_sql(&cond, schema::Dialect::Postgres, 3);
//! assert_eq!(
//!     f.sql,
//!     "EXISTS (SELECT 1 FROM license_assignments la WHERE la.user_id = u.id \
//!      AND la.state IN ('Active', 'ActiveWithError') AND la.sku_id = $3)"
//! );
//! ```

pub mod apply;
pub mod ast;
pub mod cloud_schema;
pub mod error;
pub mod lexer;
pub mod options;
pub mod parser;
pub mod schema;
pub mod sql;
pub mod validate;

pub use error::{GraphErrorInfo, ParseError, ParseErrorKind, QueryError, QueryOption, Surface};
pub use parser::{Limits, parse_filter, parse_filter_with};
