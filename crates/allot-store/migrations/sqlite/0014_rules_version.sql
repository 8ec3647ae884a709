-- A stamp of each tenant's licensing rules (catalog extension, country, the set of subscribed
-- SKUs), drawn from one counter for the whole database. A node keeps a copy of the rules it read
-- and uses it while the tenant's stamp is the one it was read with; the stamp is read in the same
-- statement as the change's first lock, so no node ever plans with rules another node changed.
-- One counter (not a count per tenant) keeps a stamp from coming back after a tenant is deleted
-- and created again.
CREATE TABLE rules_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO rules_clock (id, n) VALUES (1, 0);

ALTER TABLE tenants ADD COLUMN rules_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER tenants_rules_created AFTER INSERT ON tenants BEGIN
    UPDATE rules_clock SET n = n + 1;
    UPDATE tenants SET rules_version = (SELECT n FROM rules_clock) WHERE id = NEW.id;
END;

CREATE TRIGGER tenants_rules_changed AFTER UPDATE OF catalog_doc, country ON tenants BEGIN
    UPDATE rules_clock SET n = n + 1;
    UPDATE tenants SET rules_version = (SELECT n FROM rules_clock) WHERE id = NEW.id;
END;

CREATE TRIGGER subscriptions_rules_added AFTER INSERT ON subscriptions BEGIN
    UPDATE rules_clock SET n = n + 1;
    UPDATE tenants SET rules_version = (SELECT n FROM rules_clock) WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER subscriptions_rules_moved AFTER UPDATE OF sku_id, tenant_id ON subscriptions BEGIN
    UPDATE rules_clock SET n = n + 1;
    UPDATE tenants SET rules_version = (SELECT n FROM rules_clock)
     WHERE id IN (OLD.tenant_id, NEW.tenant_id);
END;

CREATE TRIGGER subscriptions_rules_removed AFTER DELETE ON subscriptions BEGIN
    UPDATE rules_clock SET n = n + 1;
    UPDATE tenants SET rules_version = (SELECT n FROM rules_clock) WHERE id = OLD.tenant_id;
END;
