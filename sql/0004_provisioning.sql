-- Provisioning journal and per-tenant operation locks, used by the tenant
-- lifecycle playbooks through qa_provisioner.
--
-- Neither table references tenants: the journal must outlive a tenant whose
-- onboarding was rolled back, and a lock is taken before the tenant exists.

-- One row per step of a lifecycle operation (onboard, suspend, resume,
-- remove) and tenant. A re-run updates its row instead of adding one.
CREATE TABLE IF NOT EXISTS provisioning_journal (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    operation VARCHAR(50) NOT NULL DEFAULT 'onboard',
    step VARCHAR(100) NOT NULL,
    state VARCHAR(20) NOT NULL DEFAULT 'done',
    details JSONB NOT NULL DEFAULT '{}',
    started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    finished_at TIMESTAMP WITH TIME ZONE,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT provisioning_journal_step_unique UNIQUE (tenant_id, operation, step),
    CONSTRAINT provisioning_journal_operation_valid
        CHECK (operation IN ('onboard', 'suspend', 'resume', 'remove')),
    CONSTRAINT provisioning_journal_state_valid
        CHECK (state IN ('started', 'done', 'failed', 'undone', 'undo_failed')),
    CONSTRAINT provisioning_journal_details_is_object
        CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX IF NOT EXISTS idx_provisioning_journal_state
    ON provisioning_journal (state) WHERE state <> 'done';

CREATE OR REPLACE TRIGGER set_updated_at BEFORE UPDATE ON provisioning_journal
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Per-tenant locks are rows, not advisory locks: a playbook run opens many
-- short connections, and a session advisory lock would end with the first.
-- A lock past expires_at counts as free, so a crashed run does not block
-- the tenant forever.
CREATE TABLE IF NOT EXISTS tenant_locks (
    tenant_id VARCHAR(100) PRIMARY KEY,
    holder VARCHAR(255) NOT NULL,
    operation VARCHAR(50) NOT NULL,
    acquired_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT tenant_locks_expiry_after_acquire CHECK (expires_at > acquired_at)
);

-- Take the lock on p_tenant_id for p_holder. Returns true when taken (or
-- already held by p_holder, whose expiry is then extended), false when
-- another holder has an unexpired lock.
CREATE OR REPLACE FUNCTION acquire_tenant_lock(
    p_tenant_id VARCHAR, p_holder VARCHAR, p_operation VARCHAR,
    p_ttl INTERVAL DEFAULT INTERVAL '1 hour'
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    taken_by VARCHAR;
BEGIN
    INSERT INTO tenant_locks AS l (tenant_id, holder, operation, acquired_at, expires_at)
    VALUES (p_tenant_id, p_holder, p_operation, clock_timestamp(),
            clock_timestamp() + p_ttl)
    ON CONFLICT (tenant_id) DO UPDATE
    SET holder = excluded.holder,
        operation = excluded.operation,
        acquired_at = CASE WHEN l.holder = excluded.holder
                           THEN l.acquired_at ELSE excluded.acquired_at END,
        expires_at = excluded.expires_at
    WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
    RETURNING l.holder INTO taken_by;
    RETURN taken_by IS NOT NULL;
END;
$$;

-- Release p_holder's lock on p_tenant_id. Returns false when p_holder did
-- not hold it.
CREATE OR REPLACE FUNCTION release_tenant_lock(p_tenant_id VARCHAR, p_holder VARCHAR)
RETURNS boolean
LANGUAGE sql AS $$
    WITH released AS (
        DELETE FROM tenant_locks
        WHERE tenant_id = p_tenant_id AND holder = p_holder
        RETURNING 1
    )
    SELECT count(*) > 0 FROM released
$$;

DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['provisioning_journal', 'tenant_locks'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', table_name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', table_name);
        EXECUTE format('DROP POLICY IF EXISTS owner_all ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY owner_all ON %I FOR ALL TO qa_owner '
            'USING (true) WITH CHECK (true)',
            table_name
        );
        EXECUTE format('DROP POLICY IF EXISTS provisioner_write ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY provisioner_write ON %I FOR ALL TO qa_provisioner '
            'USING (true) WITH CHECK (true)',
            table_name
        );
        EXECUTE format('DROP POLICY IF EXISTS operator_read ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY operator_read ON %I FOR SELECT TO qa_operator USING (true)',
            table_name
        );
    END LOOP;
END;
$$;

REVOKE ALL ON provisioning_journal, tenant_locks FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON provisioning_journal, tenant_locks
    TO qa_provisioner;
GRANT SELECT ON provisioning_journal, tenant_locks TO qa_operator;
GRANT EXECUTE ON FUNCTION
    acquire_tenant_lock(VARCHAR, VARCHAR, VARCHAR, INTERVAL),
    release_tenant_lock(VARCHAR, VARCHAR)
    TO qa_provisioner;
