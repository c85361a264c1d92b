-- Embrapa Vitibrasil: grape, wine and derivatives statistics (schema "vitibrasil"),
-- the raw files they were parsed from, and the previous values of changed figures.

CREATE SCHEMA vitibrasil;
COMMENT ON SCHEMA vitibrasil IS 'Embrapa Vitibrasil statistics, their history and raw downloads.';

-- The 15 tables the site publishes; crawler/vitibrasil/datasets.py holds the same rows.
CREATE TABLE vitibrasil.datasets (
    name     text PRIMARY KEY CHECK (name ~ '^[a-z_]+$'),
    opcao    text NOT NULL CHECK (opcao ~ '^opt_\d{2}$'),
    subopcao text CHECK (subopcao ~ '^subopt_\d{2}$'),
    csv_name text NOT NULL UNIQUE,
    label    text NOT NULL,  -- table heading on the site, in Portuguese
    unit     text NOT NULL CHECK (unit IN ('L', 'kg')),
    kind     text NOT NULL CHECK (kind IN ('volume', 'trade')),  -- trade: quantity and US$ value
    UNIQUE (name, unit),
    UNIQUE NULLS NOT DISTINCT (opcao, subopcao)
);

INSERT INTO vitibrasil.datasets (name, opcao, subopcao, csv_name, label, unit, kind) VALUES
    ('production',                 'opt_02', NULL,        'Producao.csv',           'Produção de vinhos, sucos e derivados',  'L',  'volume'),
    ('processing_viniferas',       'opt_03', 'subopt_01', 'ProcessaViniferas.csv',  'Uvas viníferas processadas',             'kg', 'volume'),
    ('processing_american_hybrid', 'opt_03', 'subopt_02', 'ProcessaAmericanas.csv', 'Uvas americanas e híbridas processadas', 'kg', 'volume'),
    ('processing_table_grapes',    'opt_03', 'subopt_03', 'ProcessaMesa.csv',       'Uvas de mesa processadas',               'kg', 'volume'),
    ('processing_unclassified',    'opt_03', 'subopt_04', 'ProcessaSemclass.csv',   'Uvas sem classificação processadas',     'kg', 'volume'),
    ('commercialization',          'opt_04', NULL,        'Comercio.csv',           'Comercialização de vinhos e derivados',  'L',  'volume'),
    ('import_table_wine',          'opt_05', 'subopt_01', 'ImpVinhos.csv',          'Importação de vinhos de mesa',           'kg', 'trade'),
    ('import_sparkling',           'opt_05', 'subopt_02', 'ImpEspumantes.csv',      'Importação de espumantes',               'kg', 'trade'),
    ('import_fresh_grapes',        'opt_05', 'subopt_03', 'ImpFrescas.csv',         'Importação de uvas frescas',             'kg', 'trade'),
    ('import_raisins',             'opt_05', 'subopt_04', 'ImpPassas.csv',          'Importação de uvas passas',              'kg', 'trade'),
    ('import_grape_juice',         'opt_05', 'subopt_05', 'ImpSuco.csv',            'Importação de suco de uva',              'kg', 'trade'),
    ('export_table_wine',          'opt_06', 'subopt_01', 'ExpVinho.csv',           'Exportação de vinhos de mesa',           'kg', 'trade'),
    ('export_sparkling',           'opt_06', 'subopt_02', 'ExpEspumantes.csv',      'Exportação de espumantes',               'kg', 'trade'),
    ('export_fresh_grapes',        'opt_06', 'subopt_03', 'ExpUva.csv',             'Exportação de uvas frescas',             'kg', 'trade'),
    ('export_grape_juice',         'opt_06', 'subopt_04', 'ExpSuco.csv',            'Exportação de suco de uva',              'kg', 'trade');

-- One figure per (dataset, category, item, year). A category row ("VINHO DE MESA")
-- is stored as an item of its own category with is_category; trade tables
-- (countries) have no categories, hence NULL category and NULLS NOT DISTINCT.
-- quantity / value_usd NULL: the source marks the figure unknown (nd, *, +);
-- the source's zeros ("0", "-", empty CSV cells) are 0.
CREATE TABLE vitibrasil.observations (
    id            bigserial   PRIMARY KEY,
    dataset       text        NOT NULL REFERENCES vitibrasil.datasets (name),
    category      text        CHECK (btrim(category) <> ''),
    item          text        NOT NULL CHECK (btrim(item) <> ''),
    year          smallint    NOT NULL CHECK (year BETWEEN 1970 AND 2100),
    is_category   boolean     NOT NULL,
    quantity      numeric     CHECK (quantity >= 0),   -- in unit
    value_usd     numeric     CHECK (value_usd >= 0),  -- trade datasets only
    unit          text        NOT NULL,
    first_seen_at timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,  -- last change of a figure or of removed_at
    removed_at    timestamptz,  -- absent from a later complete reading of its (dataset, year); never deleted
    run_id        bigint      NOT NULL REFERENCES crawl_runs (id),  -- the run that last changed it
    CONSTRAINT observations_key UNIQUE NULLS NOT DISTINCT (dataset, category, item, year),
    FOREIGN KEY (dataset, unit) REFERENCES vitibrasil.datasets (name, unit),
    CHECK (NOT is_category OR category = item)
);
-- The API filters by dataset and year (range) and pages by (year, id); the
-- unique key serves dataset + category (+ item); item alone needs its own.
CREATE INDEX observations_dataset_year_idx ON vitibrasil.observations (dataset, year, id);
CREATE INDEX observations_dataset_item_idx ON vitibrasil.observations (dataset, item, year);

-- The figures a run replaced: one row per changed observation and run.
CREATE TABLE vitibrasil.observation_history (
    id                 bigserial   PRIMARY KEY,
    observation_id     bigint      NOT NULL REFERENCES vitibrasil.observations (id),
    quantity           numeric,
    value_usd          numeric,
    valid_from         timestamptz NOT NULL,  -- updated_at of the replaced row
    valid_to           timestamptz NOT NULL,
    run_id             bigint      NOT NULL REFERENCES crawl_runs (id),  -- the run that stored these figures
    replaced_by_run_id bigint      NOT NULL REFERENCES crawl_runs (id),
    CHECK (valid_to >= valid_from)
);
CREATE INDEX observation_history_observation_idx ON vitibrasil.observation_history (observation_id, valid_to);

-- Every downloaded CSV and year page, once per distinct content, so the
-- observations can be rebuilt with a fixed parser without crawling again.
CREATE TABLE vitibrasil.raw_files (
    id           bigserial   PRIMARY KEY,
    sha256       text        NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    dataset      text        NOT NULL REFERENCES vitibrasil.datasets (name),
    kind         text        NOT NULL CHECK (kind IN ('csv', 'page')),
    year         smallint    CHECK ((kind = 'page') = (year IS NOT NULL)),  -- the page's year
    url          text        NOT NULL,
    content_type text,
    body         bytea       NOT NULL,  -- as served
    fetched_at   timestamptz NOT NULL,  -- first fetch of this content
    run_id       bigint      NOT NULL REFERENCES crawl_runs (id)
);
CREATE INDEX raw_files_dataset_idx ON vitibrasil.raw_files (dataset);

-- Which files each run read: a run's observations of a dataset come from
-- exactly the files it records here for that dataset (rebuild relies on it).
CREATE TABLE vitibrasil.raw_file_fetches (
    run_id      bigint      NOT NULL REFERENCES crawl_runs (id),
    raw_file_id bigint      NOT NULL REFERENCES vitibrasil.raw_files (id),
    url         text        NOT NULL,
    fetched_at  timestamptz NOT NULL,
    PRIMARY KEY (run_id, raw_file_id)
);
CREATE INDEX raw_file_fetches_file_idx ON vitibrasil.raw_file_fetches (raw_file_id, run_id);

CREATE TABLE staging.vitibrasil_observations (
    seq         bigint GENERATED ALWAYS AS IDENTITY,  -- yield order: the table's row order
    run_id      bigint NOT NULL REFERENCES crawl_runs (id),
    dataset     text,
    year        smallint,
    category    text,
    item        text,
    is_category boolean,
    quantity    numeric,
    value_usd   numeric
);
CREATE INDEX staging_vitibrasil_observations_run_idx ON staging.vitibrasil_observations (run_id);

CREATE TABLE staging.vitibrasil_raw_files (
    run_id       bigint NOT NULL REFERENCES crawl_runs (id),
    sha256       text,
    dataset      text,
    kind         text,
    year         smallint,
    url          text,
    content_type text,
    body         bytea,
    fetched_at   timestamptz NOT NULL
);
CREATE INDEX staging_vitibrasil_raw_files_run_idx ON staging.vitibrasil_raw_files (run_id);

-- Merge one run's staged observations. Rows whose figures did not change are
-- not rewritten; changed ones keep their previous figures in
-- observation_history. With p_complete, rows of a (dataset, year) the run
-- staged but no longer listing them are marked removed (a run that did not
-- read a dataset or year leaves it alone).
CREATE FUNCTION vitibrasil.merge_observations(p_run_id bigint, p_complete boolean)
RETURNS TABLE (inserted integer, updated integer, unchanged integer, removed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_now    timestamptz := clock_timestamp();
    v_staged integer;
BEGIN
    DROP TABLE IF EXISTS _staged_observations;
    CREATE TEMP TABLE _staged_observations ON COMMIT DROP AS
        SELECT DISTINCT ON (s.dataset, s.category, s.item, s.year) s.*, d.unit
        FROM staging.vitibrasil_observations s JOIN vitibrasil.datasets d ON d.name = s.dataset
        WHERE s.run_id = p_run_id
        ORDER BY s.dataset, s.category, s.item, s.year, s.seq DESC;
    GET DIAGNOSTICS v_staged = ROW_COUNT;
    ANALYZE _staged_observations;  -- a temp table has no statistics: the joins below need them

    -- coalesce(category, ''): hashable equality for NULL categories ('' is not a valid category).
    INSERT INTO vitibrasil.observation_history
        (observation_id, quantity, value_usd, valid_from, valid_to, run_id, replaced_by_run_id)
    SELECT o.id, o.quantity, o.value_usd, o.updated_at, v_now, o.run_id, p_run_id
    FROM _staged_observations s
    JOIN vitibrasil.observations o
      ON o.dataset = s.dataset AND o.item = s.item AND o.year = s.year
     AND coalesce(o.category, '') = coalesce(s.category, '')
    WHERE (o.quantity, o.value_usd) IS DISTINCT FROM (s.quantity, s.value_usd)
    ORDER BY o.id;

    WITH upserted AS (
        INSERT INTO vitibrasil.observations AS o
            (dataset, category, item, year, is_category, quantity, value_usd, unit,
             first_seen_at, updated_at, run_id)
        SELECT dataset, category, item, year, is_category, quantity, value_usd, unit, v_now, v_now, p_run_id
        FROM _staged_observations
        ORDER BY dataset, year, seq
        ON CONFLICT ON CONSTRAINT observations_key DO UPDATE SET
            is_category = EXCLUDED.is_category, quantity = EXCLUDED.quantity,
            value_usd = EXCLUDED.value_usd, unit = EXCLUDED.unit,
            removed_at = NULL, updated_at = v_now, run_id = p_run_id
        WHERE (o.is_category, o.quantity, o.value_usd, o.unit, o.removed_at IS NOT NULL)
              IS DISTINCT FROM
              (EXCLUDED.is_category, EXCLUDED.quantity, EXCLUDED.value_usd, EXCLUDED.unit, false)
        RETURNING (xmax = 0) AS is_insert
    )
    SELECT count(*) FILTER (WHERE is_insert), count(*) FILTER (WHERE NOT is_insert)
    INTO inserted, updated FROM upserted;
    unchanged := v_staged - inserted - updated;

    removed := 0;
    IF p_complete THEN
        UPDATE vitibrasil.observations o SET removed_at = v_now, updated_at = v_now, run_id = p_run_id
        WHERE o.removed_at IS NULL
          AND (o.dataset, o.year) IN (SELECT DISTINCT dataset, year FROM _staged_observations)
          AND NOT EXISTS (
              SELECT 1 FROM _staged_observations s
              WHERE s.dataset = o.dataset AND s.year = o.year AND s.item = o.item
                AND coalesce(s.category, '') = coalesce(o.category, ''));
        GET DIAGNOSTICS removed = ROW_COUNT;
    END IF;

    DELETE FROM staging.vitibrasil_observations WHERE run_id = p_run_id;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION vitibrasil.merge_observations(bigint, boolean) IS
    'Merge the staged Vitibrasil observations of one crawl run; returns the counts.';

-- Merge one run's staged raw files: new contents are stored, known ones are
-- only recorded as read by this run. Counts: inserted = new files, unchanged =
-- files already stored.
CREATE FUNCTION vitibrasil.merge_raw_files(p_run_id bigint, p_complete boolean)
RETURNS TABLE (inserted integer, updated integer, unchanged integer, removed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_staged integer;
BEGIN
    DROP TABLE IF EXISTS _staged_raw_files;
    CREATE TEMP TABLE _staged_raw_files ON COMMIT DROP AS
        SELECT DISTINCT ON (sha256) * FROM staging.vitibrasil_raw_files
        WHERE run_id = p_run_id ORDER BY sha256, fetched_at;
    GET DIAGNOSTICS v_staged = ROW_COUNT;

    INSERT INTO vitibrasil.raw_files (sha256, dataset, kind, year, url, content_type, body, fetched_at, run_id)
    SELECT sha256, dataset, kind, year, url, content_type, body, fetched_at, p_run_id
    FROM _staged_raw_files ORDER BY fetched_at
    ON CONFLICT (sha256) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    INSERT INTO vitibrasil.raw_file_fetches (run_id, raw_file_id, url, fetched_at)
    SELECT p_run_id, f.id, s.url, s.fetched_at
    FROM _staged_raw_files s JOIN vitibrasil.raw_files f ON f.sha256 = s.sha256
    ON CONFLICT DO NOTHING;

    updated := 0;
    unchanged := v_staged - inserted;
    removed := 0;
    DELETE FROM staging.vitibrasil_raw_files WHERE run_id = p_run_id;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION vitibrasil.merge_raw_files(bigint, boolean) IS
    'Store the raw files staged by one crawl run, once per content; returns the counts.';
