-- $filter=assignedLicenses/any(x:x/skuId eq …) with $count (issue #4): the holders of a SKU in a
-- tenant are counted from this index alone, instead of probing every user's assignments
-- (`allot bench filter`: 1,000,000 users). One more index to maintain per assignment row.
CREATE INDEX license_assignments_tenant_sku_user_idx ON license_assignments (tenant_id, sku_id, user_id, state);
