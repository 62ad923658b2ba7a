-- Row-level security and privileges.
--
-- Roles (created before migrations run, see the bootstrap in module_utils):
--   qa_owner        owns every object here and runs migrations, but serves no requests.
--   qa_app          the application: reads and writes its current tenant's rows.
--   qa_provisioner  manages the tenant registry (tenants, organizations, journal).
--   qa_operator     platform-wide reads (tenant list, usage) for the TUI.
--
-- Row-level security is enabled and forced on every table, so no role, the
-- owner included, gets a row without a policy that names it. Policies are
-- per role (TO ...), so a value the application sets can never widen
-- access: platform-wide reads come only from logging in as qa_operator.

-- The tenant of the current transaction, or NULL when none is set.
-- The application sets it with set_config('app.current_tenant', id, true),
-- which lasts until the end of the transaction. STABLE (not VOLATILE) lets
-- the planner evaluate it once and use tenant_id indexes.
CREATE OR REPLACE FUNCTION current_tenant_id() RETURNS VARCHAR
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT NULLIF(current_setting('app.current_tenant', true), '')::VARCHAR
$$;

-- Set the tenant for the current transaction only (is_local = true), so a
-- pooled connection carries nothing into the next transaction. Outside a
-- transaction block the setting ends with the statement itself.
CREATE OR REPLACE FUNCTION set_tenant_context(
    p_tenant_id VARCHAR, p_user_id VARCHAR DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_tenant_id IS NULL OR p_tenant_id = '' THEN
        RAISE EXCEPTION 'set_tenant_context: tenant id is empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the tenant_id of the request''s tenant.';
    END IF;
    PERFORM set_config('app.current_tenant', p_tenant_id, true);
    PERFORM set_config('app.current_user', coalesce(p_user_id, ''), true);
END;
$$;

GRANT EXECUTE ON FUNCTION current_tenant_id()
    TO qa_app, qa_provisioner, qa_operator;
GRANT EXECUTE ON FUNCTION set_tenant_context(VARCHAR, VARCHAR) TO qa_app;

-- Start from no privileges at all on every table, then grant what each role
-- needs. In particular qa_app never gets TRUNCATE (which ignores row-level
-- security), TRIGGER or REFERENCES.
REVOKE ALL ON ALL TABLES IN SCHEMA public
    FROM PUBLIC, qa_app, qa_provisioner, qa_operator;

GRANT SELECT ON tenants TO qa_app, qa_operator;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO qa_provisioner;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    organizations, user_profiles, departments, teams, agents, customers,
    calls, transcriptions, call_analyses
    TO qa_app;
-- Onboarding inserts the tenant's organization, and removal dumps every
-- row of the tenant before deleting it.
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations TO qa_provisioner;
GRANT SELECT ON
    user_profiles, departments, teams, agents, customers,
    calls, transcriptions, call_analyses
    TO qa_provisioner;
GRANT SELECT ON organizations TO qa_operator;

DO $$
DECLARE
    table_name text;
BEGIN
    -- The registry: a tenant reads its own row and changes nothing in it,
    -- so tier, limits and status stay under the provisioning role.
    ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
    ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS super_admin_all_tenants ON tenants;
    DROP POLICY IF EXISTS tenant_read_own ON tenants;
    CREATE POLICY tenant_read_own ON tenants FOR SELECT TO qa_app
        USING (tenant_id = current_tenant_id());

    FOREACH table_name IN ARRAY ARRAY[
        'organizations', 'user_profiles', 'departments', 'teams', 'agents',
        'customers', 'calls', 'transcriptions', 'call_analyses'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', table_name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', table_name);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I FOR ALL TO qa_app '
            'USING (tenant_id = current_tenant_id()) '
            'WITH CHECK (tenant_id = current_tenant_id())',
            table_name
        );
    END LOOP;

    FOREACH table_name IN ARRAY ARRAY[
        'tenants', 'organizations', 'user_profiles', 'departments', 'teams',
        'agents', 'customers', 'calls', 'transcriptions', 'call_analyses'
    ] LOOP
        -- The owner's access is explicit, for migrations and for the
        -- SECURITY DEFINER usage functions. No client logs in as qa_owner.
        EXECUTE format('DROP POLICY IF EXISTS owner_all ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY owner_all ON %I FOR ALL TO qa_owner '
            'USING (true) WITH CHECK (true)',
            table_name
        );
        EXECUTE format('DROP POLICY IF EXISTS provisioner_read ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY provisioner_read ON %I FOR SELECT TO qa_provisioner '
            'USING (true)',
            table_name
        );
    END LOOP;

    DROP POLICY IF EXISTS provisioner_write ON tenants;
    CREATE POLICY provisioner_write ON tenants FOR ALL TO qa_provisioner
        USING (true) WITH CHECK (true);
    DROP POLICY IF EXISTS provisioner_write ON organizations;
    CREATE POLICY provisioner_write ON organizations FOR ALL TO qa_provisioner
        USING (true) WITH CHECK (true);

    DROP POLICY IF EXISTS operator_read ON tenants;
    CREATE POLICY operator_read ON tenants FOR SELECT TO qa_operator USING (true);
    DROP POLICY IF EXISTS operator_read ON organizations;
    CREATE POLICY operator_read ON organizations FOR SELECT TO qa_operator
        USING (true);
END;
$$;
