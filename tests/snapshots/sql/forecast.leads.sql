-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = 'forecast'
-- $3 = 'leads'
SELECT kind,
       KEY,
       fitted_at,
       watermark,
       payload
FROM fitted_models
WHERE tenant_id = $1
  AND kind = $2
  AND KEY = $3;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = 'forecast'
SELECT min(watermark)
FROM fitted_models
WHERE tenant_id = $1
  AND kind = $2;
