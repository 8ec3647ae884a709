-- Migration 0005's index led with tenant_id, so SQLite's planner (which has no statistics: Allot
-- never runs ANALYZE) chose it for every `tenant_id = $1 AND user_id ...` lookup and walked the
-- whole tenant's assignments instead of the primary key (user_id, ...): one licenseDetails read on
-- a 20,000-user tenant scanned 20,000 index entries (`allot bench reads`: 1,387 req/s). With the
-- SKU first, a lookup by tenant alone cannot use it, while the filter count (tenant and SKU both
-- bound) still reads it the same way.
DROP INDEX license_assignments_tenant_sku_user_idx;
CREATE INDEX license_assignments_sku_tenant_user_idx ON license_assignments (sku_id, tenant_id, user_id, state);
