-- Tenant registry and tenant data tables.
--
-- Every tenant data table carries tenant_id and a UNIQUE (tenant_id, id) key,
-- and every reference between tenant data tables is a composite foreign key
-- (tenant_id, <column>), so a row can only point at rows of its own tenant.
-- UUIDs come from gen_random_uuid(), which is built into PostgreSQL 13 and
-- later, so no CREATE EXTENSION right is needed (RDS masters may lack it).
-- Statements use IF NOT EXISTS so that applying this file again is harmless.

-- Only the owner creates objects in this schema. PostgreSQL 15 already
-- revokes CREATE from PUBLIC on new databases, but a cluster upgraded from an
-- older major keeps the old grant.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Functions are created without EXECUTE for PUBLIC. Each one is granted to
-- the roles that need it.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE TABLE IF NOT EXISTS tenants (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL UNIQUE,
    realm_name VARCHAR(255) NOT NULL UNIQUE,
    subdomain VARCHAR(100) UNIQUE,
    display_name VARCHAR(255) NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'active',
    tier VARCHAR(50) NOT NULL DEFAULT 'free',
    max_users INTEGER NOT NULL DEFAULT 10,
    max_storage_gb INTEGER NOT NULL DEFAULT 10,
    max_calls_per_month INTEGER NOT NULL DEFAULT 1000,
    features JSONB NOT NULL DEFAULT '[]',
    settings JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    activated_at TIMESTAMP WITH TIME ZONE,
    suspended_at TIMESTAMP WITH TIME ZONE,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    -- DNS label: lowercase letters, digits and hyphens, starting with a
    -- letter, not ending with a hyphen, at most 63 characters.
    CONSTRAINT tenants_tenant_id_format
        CHECK (tenant_id ~ '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenants_realm_name_format
        CHECK (realm_name ~ '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenants_subdomain_format
        CHECK (subdomain IS NULL
               OR subdomain ~ '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenants_status_valid
        CHECK (status IN ('active', 'suspended', 'pending', 'disabled')),
    CONSTRAINT tenants_tier_valid
        CHECK (tier IN ('free', 'starter', 'professional', 'enterprise')),
    CONSTRAINT tenants_max_users_positive CHECK (max_users > 0),
    CONSTRAINT tenants_max_storage_gb_positive CHECK (max_storage_gb > 0),
    CONSTRAINT tenants_max_calls_per_month_positive
        CHECK (max_calls_per_month > 0),
    CONSTRAINT tenants_features_is_array
        CHECK (jsonb_typeof(features) = 'array'),
    CONSTRAINT tenants_settings_is_object
        CHECK (jsonb_typeof(settings) = 'object')
);

CREATE TABLE IF NOT EXISTS organizations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    name VARCHAR(255) NOT NULL,
    industry VARCHAR(100),
    size VARCHAR(50),
    timezone VARCHAR(50) NOT NULL DEFAULT 'UTC',
    settings JSONB NOT NULL DEFAULT '{}',
    -- The organization made together with the tenant. A tenant has at most one.
    is_default BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT organizations_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT organizations_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT organizations_size_valid
        CHECK (size IS NULL OR size IN ('small', 'medium', 'large', 'enterprise')),
    CONSTRAINT organizations_settings_is_object
        CHECK (jsonb_typeof(settings) = 'object')
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_organizations_one_default
    ON organizations (tenant_id) WHERE is_default;

CREATE TABLE IF NOT EXISTS user_profiles (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    keycloak_user_id VARCHAR(255) NOT NULL,
    organization_id UUID NOT NULL,
    email VARCHAR(256) NOT NULL,
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    -- A label copied from the Keycloak realm role. The database grants
    -- nothing on it: no policy reads this column.
    role VARCHAR(50) NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'active',
    metadata JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    last_login_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT user_profiles_unique UNIQUE (tenant_id, keycloak_user_id),
    CONSTRAINT user_profiles_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT user_profiles_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT user_profiles_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT user_profiles_role_valid CHECK (
        role IN ('super_admin', 'tenant_admin', 'manager', 'agent', 'viewer')
    ),
    CONSTRAINT user_profiles_status_valid
        CHECK (status IN ('active', 'inactive', 'suspended', 'pending')),
    CONSTRAINT user_profiles_email_format CHECK (position('@' IN email) > 1)
);

CREATE TABLE IF NOT EXISTS departments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    organization_id UUID NOT NULL,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT departments_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT departments_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT departments_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS teams (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    department_id UUID NOT NULL,
    organization_id UUID NOT NULL,
    name VARCHAR(255) NOT NULL,
    team_lead_id UUID,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT teams_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT teams_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT teams_dept_fkey FOREIGN KEY (tenant_id, department_id)
        REFERENCES departments (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT teams_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    -- SET NULL on the lead column only: tenant_id stays (PostgreSQL 15+).
    CONSTRAINT teams_team_lead_fkey FOREIGN KEY (tenant_id, team_lead_id)
        REFERENCES user_profiles (tenant_id, id) ON DELETE SET NULL (team_lead_id)
);

CREATE TABLE IF NOT EXISTS agents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    -- NULL once the user profile is deleted, so the agent and its calls stay.
    user_profile_id UUID,
    agent_code VARCHAR(50) NOT NULL,
    specializations TEXT[],
    languages TEXT[],
    is_available BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT agents_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT agents_agent_code_unique UNIQUE (tenant_id, agent_code),
    -- Unique within the tenant: a global key would tell one tenant which
    -- ids another tenant uses, through the unique-violation error.
    CONSTRAINT agents_user_profile_unique UNIQUE (tenant_id, user_profile_id),
    CONSTRAINT agents_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT agents_user_fkey FOREIGN KEY (tenant_id, user_profile_id)
        REFERENCES user_profiles (tenant_id, id) ON DELETE SET NULL (user_profile_id)
);

CREATE TABLE IF NOT EXISTS customers (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    organization_id UUID NOT NULL,
    external_id VARCHAR(255),
    name VARCHAR(255),
    email VARCHAR(256),
    phone VARCHAR(50),
    metadata JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT customers_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT customers_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT customers_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_customers_external
    ON customers (tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS calls (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    organization_id UUID NOT NULL,
    agent_id UUID NOT NULL,
    customer_id UUID,
    call_sid VARCHAR(255),
    direction VARCHAR(20),
    status VARCHAR(50) NOT NULL DEFAULT 'pending',
    call_type VARCHAR(50),
    duration_seconds INTEGER,
    recording_url TEXT,
    -- Size of the recording behind recording_url, when the uploader reports it.
    recording_size_bytes BIGINT,
    started_at TIMESTAMP WITH TIME ZONE,
    ended_at TIMESTAMP WITH TIME ZONE,
    metadata JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT calls_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT calls_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT calls_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    -- NO ACTION: an agent with calls cannot be deleted on its own, but a
    -- tenant deletion removes both in one statement.
    CONSTRAINT calls_agent_fkey FOREIGN KEY (tenant_id, agent_id)
        REFERENCES agents (tenant_id, id),
    CONSTRAINT calls_customer_fkey FOREIGN KEY (tenant_id, customer_id)
        REFERENCES customers (tenant_id, id) ON DELETE SET NULL (customer_id),
    CONSTRAINT calls_direction_valid
        CHECK (direction IS NULL OR direction IN ('inbound', 'outbound')),
    CONSTRAINT calls_duration_non_negative
        CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
    CONSTRAINT calls_recording_size_non_negative
        CHECK (recording_size_bytes IS NULL OR recording_size_bytes >= 0),
    CONSTRAINT calls_ended_after_started
        CHECK (ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at)
);

CREATE TABLE IF NOT EXISTS transcriptions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    call_id UUID NOT NULL,
    organization_id UUID NOT NULL,
    provider VARCHAR(50) NOT NULL DEFAULT 'assemblyai',
    status VARCHAR(50) NOT NULL DEFAULT 'pending',
    language_code VARCHAR(10),
    confidence_score NUMERIC(5, 4),
    word_count INTEGER,
    raw_response JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    completed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT transcriptions_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT transcriptions_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT transcriptions_call_fkey FOREIGN KEY (tenant_id, call_id)
        REFERENCES calls (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT transcriptions_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT transcriptions_confidence_range
        CHECK (confidence_score IS NULL OR confidence_score BETWEEN 0 AND 1),
    CONSTRAINT transcriptions_word_count_non_negative
        CHECK (word_count IS NULL OR word_count >= 0)
);

CREATE TABLE IF NOT EXISTS call_analyses (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id VARCHAR(100) NOT NULL,
    call_id UUID NOT NULL,
    organization_id UUID NOT NULL,
    transcription_id UUID NOT NULL,
    analysis_provider VARCHAR(50) NOT NULL DEFAULT 'openai',
    total_points_earned NUMERIC(5, 2),
    total_max_points INTEGER,
    -- A percentage in [0, 100]. NULLIF turns a zero maximum into NULL instead
    -- of a division error, and numeric operands avoid integer truncation.
    -- Points above the maximum give NULL here, so that the CHECK on the
    -- points rejects the row instead of a numeric overflow in this column.
    overall_score NUMERIC(5, 2) GENERATED ALWAYS AS (
        CASE WHEN total_points_earned <= total_max_points
             THEN round(total_points_earned * 100 / NULLIF(total_max_points, 0), 2)
        END
    ) STORED,
    performance_category VARCHAR(50),
    summary TEXT,
    status VARCHAR(50) NOT NULL DEFAULT 'pending',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    completed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT call_analyses_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT call_analyses_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT call_analyses_call_fkey FOREIGN KEY (tenant_id, call_id)
        REFERENCES calls (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT call_analyses_org_fkey FOREIGN KEY (tenant_id, organization_id)
        REFERENCES organizations (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT call_analyses_trans_fkey FOREIGN KEY (tenant_id, transcription_id)
        REFERENCES transcriptions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT call_analyses_points_non_negative
        CHECK (total_points_earned IS NULL OR total_points_earned >= 0),
    CONSTRAINT call_analyses_max_points_non_negative
        CHECK (total_max_points IS NULL OR total_max_points >= 0),
    CONSTRAINT call_analyses_points_within_max CHECK (
        total_points_earned IS NULL OR total_max_points IS NULL
        OR total_points_earned <= total_max_points
    ),
    CONSTRAINT call_analyses_score_range
        CHECK (overall_score IS NULL OR overall_score BETWEEN 0 AND 100)
);

-- One index per foreign key, led by tenant_id so that it also serves
-- tenant-scoped queries and the checks behind ON DELETE actions.
CREATE INDEX IF NOT EXISTS idx_organizations_tenant ON organizations (tenant_id);
CREATE INDEX IF NOT EXISTS idx_user_profiles_org
    ON user_profiles (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_user_profiles_email ON user_profiles (tenant_id, email);
CREATE INDEX IF NOT EXISTS idx_departments_org
    ON departments (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_teams_department ON teams (tenant_id, department_id);
CREATE INDEX IF NOT EXISTS idx_teams_org ON teams (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_teams_team_lead ON teams (tenant_id, team_lead_id);
CREATE INDEX IF NOT EXISTS idx_customers_org ON customers (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_calls_tenant_date ON calls (tenant_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_calls_org ON calls (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_calls_agent ON calls (tenant_id, agent_id);
CREATE INDEX IF NOT EXISTS idx_calls_customer ON calls (tenant_id, customer_id);
CREATE INDEX IF NOT EXISTS idx_transcriptions_call ON transcriptions (tenant_id, call_id);
CREATE INDEX IF NOT EXISTS idx_transcriptions_org
    ON transcriptions (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_call_analyses_call ON call_analyses (tenant_id, call_id);
CREATE INDEX IF NOT EXISTS idx_call_analyses_org
    ON call_analyses (tenant_id, organization_id);
CREATE INDEX IF NOT EXISTS idx_call_analyses_transcription
    ON call_analyses (tenant_id, transcription_id);

-- updated_at follows every UPDATE. now() is the start time of the transaction.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY[
        'tenants', 'organizations', 'user_profiles', 'departments', 'teams',
        'agents', 'customers', 'calls'
    ] LOOP
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER set_updated_at BEFORE UPDATE ON %I '
            'FOR EACH ROW EXECUTE FUNCTION set_updated_at()',
            table_name
        );
    END LOOP;
END;
$$;
