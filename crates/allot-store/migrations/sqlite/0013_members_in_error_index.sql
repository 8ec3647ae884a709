-- Members in error of a group (membersWithLicenseErrors, hasMembersWithLicenseErrors, the
-- console's Errors page): a partial index holding only the rows in error, so that those reads seek
-- to a group's few errors instead of walking every assignment of the group (100,000 for a
-- tenant-wide group). Rows that are not in error (nearly all of a fan-out) are not indexed.
CREATE INDEX license_assignments_in_error_idx ON license_assignments (source_group_id, user_id)
    WHERE state IN ('Error', 'ActiveWithError');
