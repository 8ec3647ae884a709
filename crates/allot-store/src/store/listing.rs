//! Listing: the row types a generic query decodes, [`Listed`] for users, groups and members, and
//! the paged, filtered and counted reads over them (keyset paging in id or any `$orderby` order,
//! validated OData conditions, a sparse-SKU filter read from the license index).

use allot_core::ids::TenantId;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::Store;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::{on_db, on_tx, sql};

/// A row type both backends decode (what a generic query of the store returns).
#[doc(hidden)]
pub trait AnyRow:
    Send
    + Unpin
    + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
{
}

impl<R> AnyRow for R where
    R: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
{
}

/// A row and the sort-key values of its keyset position (a JSON array, [`Store::sorted_page`]).
#[derive(sqlx::FromRow)]
pub struct Keyed<Row> {
    #[sqlx(flatten)]
    row: Row,
    sort_keys: String,
}

/// A directory object the store pages and fetches by id the same way: users and groups.
pub trait Listed: Sized {
    #[doc(hidden)]
    type Row: AnyRow;
    /// `SELECT <columns>{extra} FROM <table> <alias> WHERE <alias>.tenant_id = $1`.
    #[doc(hidden)]
    fn select(extra: &str) -> String;
    #[doc(hidden)]
    fn head() -> String {
        Self::select("")
    }
    /// The id column, with the alias of [`Listed::head`].
    #[doc(hidden)]
    const KEY: &'static str;
    #[doc(hidden)]
    fn from_row(row: Self::Row) -> Result<Self, StoreError>;
}

/// A member of a group (a user or a group), as `/groups/{id}/members` pages them: scoped to the
/// group (`$2`), with the member's display name joined for sorting (`mu`, `mg`). Only for
/// [`Store::sorted_page_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member(pub crate::records::MemberRef);

#[derive(sqlx::FromRow)]
#[doc(hidden)]
pub struct MemberRow {
    member_id: DbId,
    member_type: String,
}

impl Listed for Member {
    type Row = MemberRow;
    fn select(extra: &str) -> String {
        format!(
            "SELECT m.member_id, m.member_type{extra} FROM group_members m \
             LEFT JOIN users mu ON mu.id = m.member_id LEFT JOIN groups mg ON mg.id = m.member_id \
             WHERE m.tenant_id = $1 AND m.group_id = $2"
        )
    }
    const KEY: &'static str = "m.member_id";
    fn from_row(row: Self::Row) -> Result<Self, StoreError> {
        Ok(Self(super::groups::member_ref(row.member_id.0, &row.member_type)))
    }
}

impl Listed for crate::records::User {
    type Row = crate::records::UserRow;
    fn select(extra: &str) -> String {
        format!(
            "SELECT {}{extra} FROM users u WHERE u.tenant_id = $1",
            crate::records::USER_COLS
        )
    }
    const KEY: &'static str = "u.id";
    fn from_row(row: Self::Row) -> Result<Self, StoreError> {
        Self::try_from(row)
    }
}

impl Listed for crate::records::Group {
    type Row = Self;
    fn select(extra: &str) -> String {
        format!(
            "SELECT {}{extra} FROM groups g WHERE g.tenant_id = $1",
            crate::records::GROUP_COLS
        )
    }
    const KEY: &'static str = "g.id";
    fn from_row(row: Self::Row) -> Result<Self, StoreError> {
        Ok(row)
    }
}

/// The row of `head` (`SELECT … FROM <table> WHERE tenant_id = $1`) whose `id` is `id`, read in
/// the transaction (after the caller took the row's lock).
pub(crate) async fn row_in_tx<R: AnyRow>(
    tx: &mut crate::db::Tx,
    head: &str,
    tenant: TenantId,
    id: Uuid,
) -> Result<R, StoreError> {
    let sql = format!("{head} AND id = $2");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, R>(AssertSqlSafe(sql))
        .bind(DbId::from(tenant))
        .bind(DbId(id))
        .fetch_one(c)
        .await)?)
}

impl Store {
    /// Users or groups matching `filter` (a validated OData condition on the row `u` or `g`, from
    /// `allot_odata::schema::USERS` or `GROUPS`; `None`: all) with an id above `after`, in id
    /// order (keyset paging: stable under inserts).
    pub async fn page_where<T: Listed>(
        &self,
        tenant: TenantId,
        filter: Option<&allot_odata::validate::Cond>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<T::Row> = self
            .filtered_page(&T::head(), T::KEY, tenant, filter, after, limit)
            .await?;
        rows.into_iter().map(T::from_row).collect()
    }

    /// Users or groups matching `filter` in the order of `order` (then id), continuing after the
    /// row whose sort-key values are `after`: each with its own values, what a next-page token
    /// carries. Keyset paging in any order, exact under concurrent inserts.
    pub async fn sorted_page<T: Listed>(
        &self,
        tenant: TenantId,
        filter: Option<&allot_odata::validate::Cond>,
        order: &[allot_odata::sql::SortKey],
        after: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<(T, Vec<String>)>, StoreError> {
        self.sorted_page_in::<T>(tenant, None, filter, order, after, limit)
            .await
    }

    /// As [`Store::sorted_page`], within `scope` (bound at `$2` of [`Listed::select`]: the group
    /// whose members are listed, for [`Member`]).
    pub async fn sorted_page_in<T: Listed>(
        &self,
        tenant: TenantId,
        scope: Option<Uuid>,
        filter: Option<&allot_odata::validate::Cond>,
        order: &[allot_odata::sql::SortKey],
        after: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<(T, Vec<String>)>, StoreError> {
        use allot_odata::schema::{Sql, Type};
        let d = sql::dialect(self.db.backend());
        let mut keys = order.to_vec();
        keys.push(allot_odata::sql::SortKey::asc(Sql::same(T::KEY), Type::Guid));
        let first = if scope.is_some() { 3 } else { 2 };
        let (and, params, mut n) = sql::odata_where(self.db.backend(), filter, first);
        let mut after_sql = String::new();
        // A users page in id order whose filter requires a SKU few users hold starts from the
        // holders (after the page token's id), read from the license index.
        let mut holders = String::new();
        if T::KEY == "u.id"
            && order.is_empty()
            && let Some(skus) = filter.and_then(sql::required_skus)
            && let Some(list) = self.sparse_holders(tenant, &skus).await?
        {
            let bound = if after.is_some() {
                format!(
                    " AND la.user_id > {}",
                    allot_odata::sql::typed_param(Type::Guid, d, n)
                )
            } else {
                String::new()
            };
            holders = format!(" AND u.id IN ({list}{bound})");
        }
        if let Some(values) = after {
            if values.len() != keys.len() {
                return Err(StoreError::Invalid(
                    "The page token does not belong to this query.".into(),
                ));
            }
            after_sql = format!(" AND {}", allot_odata::sql::keyset_after(&keys, d, n));
            n += keys.len();
        }
        let head = T::select(&format!(
            ", {} AS sort_keys",
            allot_odata::sql::key_values(&keys, d)
        ));
        let sql = format!(
            "{head}{and}{after_sql}{holders} ORDER BY {} LIMIT ${n}",
            allot_odata::sql::order_by(&keys, d)
        );
        let rows: Vec<Keyed<T::Row>> = on_db!(&self.db, |p| {
            let mut q = sqlx::query_as::<_, Keyed<T::Row>>(AssertSqlSafe(sql)).bind(DbId::from(tenant));
            if let Some(s) = scope {
                q = q.bind(DbId(s));
            }
            let mut q = crate::bind_odata!(q, &params);
            for v in after.unwrap_or_default() {
                q = q.bind(v.clone());
            }
            q.bind(limit).fetch_all(p).await
        })?;
        rows.into_iter()
            .map(|r| {
                let values: Vec<serde_json::Value> = serde_json::from_str(&r.sort_keys)
                    .map_err(|e| StoreError::Corrupt(format!("sort keys: {e}")))?;
                let keys = values
                    .into_iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect();
                Ok((T::from_row(r.row)?, keys))
            })
            .collect()
    }

    /// The users or groups of `ids` in the tenant, in id order.
    pub async fn by_ids<T: Listed>(
        &self,
        tenant: TenantId,
        ids: impl IntoIterator<Item = impl Into<Uuid>>,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<T::Row> = self
            .rows_by_ids(&T::head(), tenant, ids.into_iter().map(Into::into))
            .await?;
        rows.into_iter().map(T::from_row).collect()
    }

    /// One keyset page of a tenant's directory objects matching an OData `filter`: `head` is
    /// `SELECT … FROM <table> <alias> WHERE <alias>.tenant_id = $1`, `key` the id column; rows
    /// with an id above `after`, in id order.
    pub(crate) async fn filtered_page<R: AnyRow>(
        &self,
        head: &str,
        key: &str,
        tenant: TenantId,
        filter: Option<&allot_odata::validate::Cond>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<R>, StoreError> {
        let (and, params, n) = sql::odata_where(self.db.backend(), filter, 3);
        // Where the page starts: after `$2` in id order, or (few holders of a required SKU) the
        // holders after `$2`, read from the license index.
        let mut start = format!("{key} > $2");
        if key == "u.id"
            && let Some(skus) = filter.and_then(sql::required_skus)
            && let Some(list) = self.sparse_holders(tenant, &skus).await?
        {
            start = format!("u.id IN ({list} AND la.user_id > $2)");
        }
        let sql = format!("{head} AND {start}{and} ORDER BY {key} LIMIT ${n}");
        Ok(on_db!(&self.db, |p| crate::bind_odata!(
            sqlx::query_as::<_, R>(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(after.map_or(crate::dbid::NIL, DbId)),
            &params
        )
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// For a users page whose filter requires one of `skus`, when few users hold them: the query
    /// of their holders over the license index, for `u.id IN (…)`, so that the page is read from
    /// the holders instead of probing every user in id order (10 holders among
    /// 100,000 users: 100,000 probes). When many hold them, `None`: the id-order walk finds a page
    /// of holders in a few probes, where the holder list would read them all. Either way the
    /// filter's own condition still applies.
    async fn sparse_holders(&self, tenant: TenantId, skus: &[Uuid]) -> Result<Option<String>, StoreError> {
        /// Holders up to which the license index drives the page (measured with `allot bench
        /// console` and `allot bench filter`, docs/benchmarks.md).
        const SPARSE: i64 = 20_000;
        let list = skus
            .iter()
            .map(|u| format!("'{u}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(consumed), 0) AS BIGINT) FROM sku_pools WHERE tenant_id = $1 AND sku_id IN ({list})"
        );
        let holders: i64 = on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(AssertSqlSafe(
            sql.clone()
        ))
        .bind(DbId::from(tenant))
        .fetch_one(p)
        .await)?;
        Ok((holders <= SPARSE).then(|| {
            format!(
                "SELECT la.user_id FROM license_assignments la WHERE la.tenant_id = $1 AND la.sku_id IN ({list}) AND {}",
                allot_core::sql_holds_license!("la")
            )
        }))
    }

    /// The row of `head` (`SELECT … FROM <table> WHERE tenant_id = $1`) whose `id` is `id`.
    pub(crate) async fn row_by_id<R: AnyRow>(
        &self,
        head: &str,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<R>, StoreError> {
        let sql = format!("{head} AND id = $2");
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, R>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(DbId(id))
            .fetch_optional(p)
            .await)?)
    }

    /// The rows of `head` (`SELECT … FROM <table> WHERE tenant_id = $1`) whose `id` is one of
    /// `ids`, in id order.
    pub(crate) async fn rows_by_ids<R: AnyRow>(
        &self,
        head: &str,
        tenant: TenantId,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<Vec<R>, StoreError> {
        let ids = sql::ids_json(ids);
        if ids == "[]" {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{head} AND id IN {} ORDER BY id",
            sql::ids_in(self.db.backend(), 2)
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, R>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(&ids)
            .fetch_all(p)
            .await)?)
    }

    /// How many rows of `from` (`FROM <table> <alias> WHERE <alias>.tenant_id = $1`) match `filter`.
    pub(crate) async fn filtered_count(
        &self,
        from: &str,
        tenant: TenantId,
        filter: Option<&allot_odata::validate::Cond>,
    ) -> Result<i64, StoreError> {
        let (and, params, _) = sql::odata_where(self.db.backend(), filter, 2);
        let sql = format!("SELECT COUNT(*) {from}{and}");
        Ok(on_db!(&self.db, |p| crate::bind_odata!(
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(DbId::from(tenant)),
            &params
        )
        .fetch_one(p)
        .await)?)
    }
}
