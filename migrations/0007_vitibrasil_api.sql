-- What the API reads of Vitibrasil (schema "api", the contract: see 0002_api.sql),
-- and the read-only role's grant on it. Removed rows are not served.

CREATE VIEW api.vitibrasil_observations AS
SELECT o.id, o.dataset, o.year, o.category, o.item, o.is_category, o.quantity, o.value_usd, o.unit,
       o.first_seen_at, o.updated_at, o.run_id
FROM vitibrasil.observations o
WHERE o.removed_at IS NULL;

-- Each dataset as the site names it, with what is stored of it.
CREATE VIEW api.vitibrasil_datasets AS
SELECT d.name, d.label, d.unit, d.kind, d.opcao, d.subopcao,
       min(o.year)       AS first_year,
       max(o.year)       AS last_year,
       count(o.id)       AS row_count,
       max(o.updated_at) AS last_updated
FROM vitibrasil.datasets d
LEFT JOIN vitibrasil.observations o ON o.dataset = d.name AND o.removed_at IS NULL
GROUP BY d.name;

-- The role exists wherever 0002_api.sql could create it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT SELECT ON api.vitibrasil_datasets, api.vitibrasil_observations TO api_reader;
    END IF;
END
$$;
