"""Administration: roles and policy, tenants, keys, branding and the audit log's read side, over HTTP."""
