-- The built-in default tenant and its default organization, exactly once:
-- ON CONFLICT on the tenant_id key and on the one-default-per-tenant index.
INSERT INTO tenants (tenant_id, realm_name, subdomain, display_name, status, tier)
VALUES ('default', 'qa-default', NULL, 'QA Platform - Default Tenant', 'active', 'free')
ON CONFLICT (tenant_id) DO NOTHING;

INSERT INTO organizations (tenant_id, name, industry, size, is_default)
VALUES ('default', 'Default Organization', 'General', 'small', true)
ON CONFLICT (tenant_id) WHERE is_default DO NOTHING;
