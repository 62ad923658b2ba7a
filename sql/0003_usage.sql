-- Tenant usage: users, calls per month, storage and API calls, kept in
-- rollup tables by statement-level triggers so that reading the usage of
-- every tenant costs one small join instead of a scan of calls.
--
-- Each trigger sums its statement's transition table once, so a batch
-- insert of 1,000 calls adds one upsert per (tenant, month), not 1,000.
-- Rollup rows are the serialization point for concurrent writers of the
-- same tenant: a second transaction waits on the row until the first commits.

-- The usage month of a call: started_at (or created_at when the call has
-- not started) truncated to the month in UTC.
CREATE OR REPLACE FUNCTION usage_month(
    p_started_at TIMESTAMP WITH TIME ZONE, p_created_at TIMESTAMP WITH TIME ZONE
) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', coalesce(p_started_at, p_created_at) AT TIME ZONE 'UTC')::date
$$;

CREATE OR REPLACE FUNCTION current_usage_month() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date
$$;

-- Calls (by usage_month) and API calls per tenant and UTC month.
CREATE TABLE IF NOT EXISTS usage_monthly (
    tenant_id VARCHAR(100) NOT NULL
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    month date NOT NULL,
    call_count BIGINT NOT NULL DEFAULT 0,
    api_calls BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month),
    CONSTRAINT usage_monthly_month_start CHECK (extract(day FROM month) = 1)
);
-- Reading one month for every tenant scans only that month's rows.
CREATE INDEX IF NOT EXISTS idx_usage_monthly_month ON usage_monthly (month, tenant_id);

-- Totals per tenant. row_bytes is the summed length of the text form of the
-- tenant's rows in the tenant data tables, about what a dump of them takes.
-- pg_column_size() of the row was not used: PostgreSQL 15 gave different
-- sizes for the same row in a trigger's transition table and in the heap
-- (rows inserted through ON CONFLICT), so the rollup drifted from a recount.
-- recording_bytes is the sum of calls.recording_size_bytes where it is known.
CREATE TABLE IF NOT EXISTS usage_totals (
    tenant_id VARCHAR(100) PRIMARY KEY
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    user_count BIGINT NOT NULL DEFAULT 0,
    row_bytes BIGINT NOT NULL DEFAULT 0,
    recording_bytes BIGINT NOT NULL DEFAULT 0
);

-- API calls per tenant and UTC day, incremented by the application through
-- increment_api_calls(), which adds the same count to usage_monthly.
CREATE TABLE IF NOT EXISTS api_usage_daily (
    tenant_id VARCHAR(100) NOT NULL
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    day date NOT NULL,
    api_calls BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day),
    CONSTRAINT api_usage_daily_non_negative CHECK (api_calls >= 0)
);

-- Rollup maintenance for calls: call counts per month, row bytes and
-- recording bytes. Deltas for tenants deleted in the same statement (a
-- cascade from tenants) are dropped, because their rollup rows are gone.
CREATE OR REPLACE FUNCTION usage_track_calls() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_monthly AS u (tenant_id, month, call_count)
        SELECT n.tenant_id, usage_month(n.started_at, n.created_at), count(*)
        FROM new_rows n
        GROUP BY 1, 2
        ORDER BY 1, 2
        ON CONFLICT (tenant_id, month)
        DO UPDATE SET call_count = u.call_count + excluded.call_count;

        INSERT INTO usage_totals AS u (tenant_id, row_bytes, recording_bytes)
        SELECT n.tenant_id, sum(octet_length(n::text)),
               coalesce(sum(n.recording_size_bytes), 0)
        FROM new_rows n
        GROUP BY 1
        ORDER BY 1
        ON CONFLICT (tenant_id) DO UPDATE
        SET row_bytes = u.row_bytes + excluded.row_bytes,
            recording_bytes = u.recording_bytes + excluded.recording_bytes;
        RETURN NULL;
    END IF;

    IF TG_OP = 'DELETE' THEN
        INSERT INTO usage_monthly AS u (tenant_id, month, call_count)
        SELECT o.tenant_id, usage_month(o.started_at, o.created_at), -count(*)
        FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = o.tenant_id)
        GROUP BY 1, 2
        ORDER BY 1, 2
        ON CONFLICT (tenant_id, month)
        DO UPDATE SET call_count = u.call_count + excluded.call_count;

        INSERT INTO usage_totals AS u (tenant_id, row_bytes, recording_bytes)
        SELECT o.tenant_id, -sum(octet_length(o::text)),
               -coalesce(sum(o.recording_size_bytes), 0)
        FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = o.tenant_id)
        GROUP BY 1
        ORDER BY 1
        ON CONFLICT (tenant_id) DO UPDATE
        SET row_bytes = u.row_bytes + excluded.row_bytes,
            recording_bytes = u.recording_bytes + excluded.recording_bytes;
        RETURN NULL;
    END IF;

    -- UPDATE: subtract the old rows and add the new ones, so a call moved
    -- to another month (or a changed recording size) is counted once.
    INSERT INTO usage_monthly AS u (tenant_id, month, call_count)
    SELECT d.tenant_id, d.month, sum(d.delta)
    FROM (
        SELECT n.tenant_id, usage_month(n.started_at, n.created_at) AS month,
               1 AS delta
        FROM new_rows n
        UNION ALL
        SELECT o.tenant_id, usage_month(o.started_at, o.created_at), -1
        FROM old_rows o
    ) d
    GROUP BY 1, 2
    HAVING sum(d.delta) <> 0
    ORDER BY 1, 2
    ON CONFLICT (tenant_id, month)
    DO UPDATE SET call_count = u.call_count + excluded.call_count;

    INSERT INTO usage_totals AS u (tenant_id, row_bytes, recording_bytes)
    SELECT d.tenant_id, sum(d.row_bytes), sum(d.recording_bytes)
    FROM (
        SELECT n.tenant_id, octet_length(n::text)::bigint AS row_bytes,
               coalesce(n.recording_size_bytes, 0) AS recording_bytes
        FROM new_rows n
        UNION ALL
        SELECT o.tenant_id, -octet_length(o::text)::bigint,
               -coalesce(o.recording_size_bytes, 0)
        FROM old_rows o
    ) d
    GROUP BY 1
    ORDER BY 1
    ON CONFLICT (tenant_id) DO UPDATE
    SET row_bytes = u.row_bytes + excluded.row_bytes,
        recording_bytes = u.recording_bytes + excluded.recording_bytes;
    RETURN NULL;
END;
$$;

-- Rollup maintenance for the other tenant data tables: row bytes, and the
-- user count for user_profiles, which is also where max_users is enforced.
CREATE OR REPLACE FUNCTION usage_track_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    is_users boolean := TG_TABLE_NAME = 'user_profiles';
    over_limit record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_totals AS u (tenant_id, user_count, row_bytes)
        SELECT n.tenant_id, CASE WHEN is_users THEN count(*) ELSE 0 END,
               sum(octet_length(n::text))
        FROM new_rows n
        GROUP BY 1
        ORDER BY 1
        ON CONFLICT (tenant_id) DO UPDATE
        SET user_count = u.user_count + excluded.user_count,
            row_bytes = u.row_bytes + excluded.row_bytes;

        -- The upsert above locks the tenant's usage_totals row until commit,
        -- so concurrent inserts of users for one tenant are checked one after
        -- the other against committed counts.
        IF is_users THEN
            SELECT u.tenant_id, u.user_count, t.max_users INTO over_limit
            FROM usage_totals u
            JOIN tenants t ON t.tenant_id = u.tenant_id
            WHERE u.tenant_id IN (SELECT n.tenant_id FROM new_rows n)
              AND u.user_count > t.max_users
            ORDER BY u.tenant_id
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION
                    'tenant % would have % users, above its max_users of %',
                    over_limit.tenant_id, over_limit.user_count,
                    over_limit.max_users
                    USING ERRCODE = 'check_violation',
                          HINT = 'Remove users first, or raise max_users '
                                 'through the provisioning role.';
            END IF;
        END IF;
        RETURN NULL;
    END IF;

    IF TG_OP = 'DELETE' THEN
        INSERT INTO usage_totals AS u (tenant_id, user_count, row_bytes)
        SELECT o.tenant_id, CASE WHEN is_users THEN -count(*) ELSE 0 END,
               -sum(octet_length(o::text))
        FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = o.tenant_id)
        GROUP BY 1
        ORDER BY 1
        ON CONFLICT (tenant_id) DO UPDATE
        SET user_count = u.user_count + excluded.user_count,
            row_bytes = u.row_bytes + excluded.row_bytes;
        RETURN NULL;
    END IF;

    INSERT INTO usage_totals AS u (tenant_id, user_count, row_bytes)
    SELECT d.tenant_id, CASE WHEN is_users THEN sum(d.delta) ELSE 0 END,
           sum(d.row_bytes)
    FROM (
        SELECT n.tenant_id, 1 AS delta, octet_length(n::text)::bigint AS row_bytes
        FROM new_rows n
        UNION ALL
        SELECT o.tenant_id, -1, -octet_length(o::text)::bigint
        FROM old_rows o
    ) d
    GROUP BY 1
    ORDER BY 1
    ON CONFLICT (tenant_id) DO UPDATE
    SET user_count = u.user_count + excluded.user_count,
        row_bytes = u.row_bytes + excluded.row_bytes;
    RETURN NULL;
END;
$$;

DO $$
DECLARE
    table_name text;
    function_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY[
        'organizations', 'user_profiles', 'departments', 'teams', 'agents',
        'customers', 'calls', 'transcriptions', 'call_analyses'
    ] LOOP
        function_name := CASE WHEN table_name = 'calls'
                              THEN 'usage_track_calls' ELSE 'usage_track_rows' END;
        -- Transition tables allow only one event per trigger, hence three.
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER usage_after_insert AFTER INSERT ON %I '
            'REFERENCING NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
            table_name, function_name
        );
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER usage_after_update AFTER UPDATE ON %I '
            'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
            table_name, function_name
        );
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER usage_after_delete AFTER DELETE ON %I '
            'REFERENCING OLD TABLE AS old_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
            table_name, function_name
        );
    END LOOP;
END;
$$;

-- Count API calls for the current transaction's tenant on today's UTC date.
-- The application has no direct write access to the counter table, so a
-- tenant cannot lower its own count.
CREATE OR REPLACE FUNCTION increment_api_calls(p_count INTEGER DEFAULT 1)
RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    tenant VARCHAR := current_tenant_id();
    total BIGINT;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'increment_api_calls: no tenant is set'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Call set_config(''app.current_tenant'', <tenant_id>, true) '
                         'in the same transaction first.';
    END IF;
    IF p_count IS NULL OR p_count < 1 THEN
        RAISE EXCEPTION 'increment_api_calls: count % is invalid, it must be 1 or more',
            p_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO api_usage_daily AS a (tenant_id, day, api_calls)
    VALUES (tenant, (now() AT TIME ZONE 'UTC')::date, p_count)
    ON CONFLICT (tenant_id, day) DO UPDATE SET api_calls = a.api_calls + excluded.api_calls
    RETURNING a.api_calls INTO total;
    INSERT INTO usage_monthly AS m (tenant_id, month, api_calls)
    VALUES (tenant, current_usage_month(), p_count)
    ON CONFLICT (tenant_id, month) DO UPDATE SET api_calls = m.api_calls + excluded.api_calls;
    RETURN total;
END;
$$;

-- Usage of every tenant the caller may see, for one month (default: the
-- current UTC month). Percentages are NULL when the limit is zero or NULL.
-- SECURITY INVOKER: qa_operator sees every tenant, qa_app only its own.
CREATE OR REPLACE FUNCTION tenant_usage(p_month date DEFAULT NULL)
RETURNS TABLE (
    tenant_id VARCHAR,
    status VARCHAR,
    tier VARCHAR,
    user_count BIGINT,
    max_users INTEGER,
    users_pct NUMERIC,
    calls_this_month BIGINT,
    max_calls_per_month INTEGER,
    calls_pct NUMERIC,
    storage_bytes BIGINT,
    max_storage_gb INTEGER,
    storage_pct NUMERIC,
    api_calls_this_month BIGINT
)
LANGUAGE sql STABLE AS $$
    -- The month is an expression, not a CTE column, so that the planner can
    -- use idx_usage_monthly_month for it.
    SELECT t.tenant_id, t.status, t.tier,
           coalesce(u.user_count, 0), t.max_users,
           round(coalesce(u.user_count, 0)::numeric * 100 / NULLIF(t.max_users, 0), 2),
           coalesce(m.call_count, 0), t.max_calls_per_month,
           round(coalesce(m.call_count, 0)::numeric * 100
                 / NULLIF(t.max_calls_per_month, 0), 2),
           coalesce(u.row_bytes + u.recording_bytes, 0), t.max_storage_gb,
           round(coalesce(u.row_bytes + u.recording_bytes, 0)::numeric * 100
                 / NULLIF(t.max_storage_gb::numeric * 1073741824, 0), 2),
           coalesce(m.api_calls, 0)
    FROM tenants t
    LEFT JOIN usage_totals u ON u.tenant_id = t.tenant_id
    LEFT JOIN usage_monthly m
           ON m.tenant_id = t.tenant_id
          AND m.month = coalesce(date_trunc('month', p_month)::date,
                                 current_usage_month())
    ORDER BY t.tenant_id
$$;

-- The original single-tenant entry point, now with real figures.
-- call_count is the number of calls in the current UTC month.
CREATE OR REPLACE FUNCTION get_tenant_usage(p_tenant_id VARCHAR)
RETURNS TABLE (
    user_count BIGINT,
    call_count BIGINT,
    storage_used_gb NUMERIC,
    api_calls_this_month BIGINT
)
LANGUAGE sql STABLE AS $$
    SELECT u.user_count, u.calls_this_month,
           round(u.storage_bytes::numeric / 1073741824, 6),
           u.api_calls_this_month
    FROM tenant_usage() u
    WHERE u.tenant_id = p_tenant_id
$$;

-- The same figures computed from the base tables, for checking the rollups
-- (tests, benchmarks, and after a restore). Scans every tenant data table.
CREATE OR REPLACE FUNCTION usage_recount(p_month date DEFAULT NULL)
RETURNS TABLE (
    tenant_id VARCHAR,
    user_count BIGINT,
    calls_this_month BIGINT,
    row_bytes BIGINT,
    recording_bytes BIGINT,
    api_calls_this_month BIGINT
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH period AS (
        SELECT coalesce(date_trunc('month', p_month)::date, current_usage_month())
               AS month_start
    ), row_sizes AS (
        SELECT x.tenant_id, octet_length(x::text)::bigint AS bytes FROM organizations x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM user_profiles x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM departments x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM teams x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM agents x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM customers x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM calls x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM transcriptions x
        UNION ALL SELECT x.tenant_id, octet_length(x::text) FROM call_analyses x
    ), bytes AS (
        SELECT r.tenant_id, sum(r.bytes)::bigint AS row_bytes
        FROM row_sizes r GROUP BY r.tenant_id
    ), users AS (
        SELECT x.tenant_id, count(*) AS user_count FROM user_profiles x
        GROUP BY x.tenant_id
    ), month_calls AS (
        SELECT x.tenant_id, count(*) AS call_count
        FROM calls x, period p
        WHERE usage_month(x.started_at, x.created_at) = p.month_start
        GROUP BY x.tenant_id
    ), recordings AS (
        SELECT x.tenant_id, coalesce(sum(x.recording_size_bytes), 0)::bigint AS bytes
        FROM calls x GROUP BY x.tenant_id
    ), api AS (
        SELECT x.tenant_id, sum(x.api_calls)::bigint AS api_calls
        FROM api_usage_daily x, period p
        WHERE x.day >= p.month_start
          AND x.day < (p.month_start + interval '1 month')::date
        GROUP BY x.tenant_id
    )
    SELECT t.tenant_id, coalesce(us.user_count, 0), coalesce(mc.call_count, 0),
           coalesce(b.row_bytes, 0), coalesce(r.bytes, 0), coalesce(a.api_calls, 0)
    FROM tenants t
    LEFT JOIN users us ON us.tenant_id = t.tenant_id
    LEFT JOIN month_calls mc ON mc.tenant_id = t.tenant_id
    LEFT JOIN bytes b ON b.tenant_id = t.tenant_id
    LEFT JOIN recordings r ON r.tenant_id = t.tenant_id
    LEFT JOIN api a ON a.tenant_id = t.tenant_id
    ORDER BY t.tenant_id
$$;

-- Rebuild every rollup from the base tables. It is idempotent, and this
-- migration uses it for rows that existed before it. Run it after a restore.
CREATE OR REPLACE FUNCTION usage_rebuild() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    -- Blocks writers of tenant data until the rebuild commits, so no delta
    -- is lost between the recount and the rewrite.
    LOCK TABLE organizations, user_profiles, departments, teams, agents,
        customers, calls, transcriptions, call_analyses IN SHARE MODE;
    LOCK TABLE api_usage_daily IN SHARE MODE;
    DELETE FROM usage_monthly;
    DELETE FROM usage_totals;
    INSERT INTO usage_monthly (tenant_id, month, call_count, api_calls)
    SELECT coalesce(c.tenant_id, a.tenant_id), coalesce(c.month, a.month),
           coalesce(c.call_count, 0), coalesce(a.api_calls, 0)
    FROM (
        SELECT x.tenant_id, usage_month(x.started_at, x.created_at) AS month,
               count(*) AS call_count
        FROM calls x GROUP BY 1, 2
    ) c
    FULL JOIN (
        SELECT x.tenant_id, date_trunc('month', x.day)::date AS month,
               sum(x.api_calls) AS api_calls
        FROM api_usage_daily x GROUP BY 1, 2
    ) a ON a.tenant_id = c.tenant_id AND a.month = c.month;
    INSERT INTO usage_totals (tenant_id, user_count, row_bytes, recording_bytes)
    SELECT r.tenant_id, r.user_count, r.row_bytes, r.recording_bytes
    FROM usage_recount() r;
END;
$$;

DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY[
        'usage_monthly', 'usage_totals', 'api_usage_daily'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', table_name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', table_name);
        EXECUTE format('DROP POLICY IF EXISTS owner_all ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY owner_all ON %I FOR ALL TO qa_owner '
            'USING (true) WITH CHECK (true)',
            table_name
        );
        EXECUTE format('DROP POLICY IF EXISTS tenant_read_own ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY tenant_read_own ON %I FOR SELECT TO qa_app '
            'USING (tenant_id = current_tenant_id())',
            table_name
        );
        EXECUTE format('DROP POLICY IF EXISTS platform_read ON %I', table_name);
        EXECUTE format(
            'CREATE POLICY platform_read ON %I FOR SELECT '
            'TO qa_operator, qa_provisioner USING (true)',
            table_name
        );
    END LOOP;
END;
$$;

REVOKE ALL ON usage_monthly, usage_totals, api_usage_daily FROM PUBLIC;
GRANT SELECT ON usage_monthly, usage_totals, api_usage_daily
    TO qa_app, qa_operator, qa_provisioner;

GRANT EXECUTE ON FUNCTION usage_month(TIMESTAMP WITH TIME ZONE, TIMESTAMP WITH TIME ZONE),
    current_usage_month(), tenant_usage(date), get_tenant_usage(VARCHAR)
    TO qa_app, qa_operator, qa_provisioner;
GRANT EXECUTE ON FUNCTION increment_api_calls(INTEGER) TO qa_app;
GRANT EXECUTE ON FUNCTION usage_recount(date) TO qa_operator, qa_provisioner;

SELECT usage_rebuild();
