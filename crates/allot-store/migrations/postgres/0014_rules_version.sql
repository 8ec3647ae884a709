-- A stamp of each tenant's licensing rules (catalog extension, country, the set of subscribed
-- SKUs), drawn from one sequence for the whole database. A node keeps a copy of the rules it read
-- and uses it while the tenant's stamp is the one it was read with; the stamp is read in the same
-- statement as the change's first lock, so no node ever plans with rules another node changed.
-- One sequence (not a count per tenant) keeps a stamp from coming back after a tenant is deleted
-- and created again.
CREATE SEQUENCE rules_clock;

ALTER TABLE tenants ADD COLUMN rules_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION tenants_rules_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rules_version := nextval('rules_clock');
    RETURN NEW;
END
$$;

CREATE TRIGGER tenants_rules_created BEFORE INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_rules_stamp();

CREATE TRIGGER tenants_rules_changed BEFORE UPDATE OF catalog_doc, country ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_rules_stamp();

CREATE FUNCTION subscriptions_rules_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE tenants SET rules_version = nextval('rules_clock') WHERE id = OLD.tenant_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE tenants SET rules_version = nextval('rules_clock') WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER subscriptions_rules_added AFTER INSERT ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_rules_stamp();

CREATE TRIGGER subscriptions_rules_moved AFTER UPDATE OF sku_id, tenant_id ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_rules_stamp();

CREATE TRIGGER subscriptions_rules_removed AFTER DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_rules_stamp();
