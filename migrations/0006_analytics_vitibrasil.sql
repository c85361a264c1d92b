-- Vitibrasil in the analytics schema (0005_analytics.sql): the figures in long
-- form, and year by year in one row per series, as the site's tables show them.

CREATE VIEW analytics.vitibrasil_observations AS
SELECT o.dataset, d.label AS dataset_label, d.kind, o.category, o.item, o.is_category, o.year,
       o.quantity, o.unit, o.value_usd, o.first_seen_at, o.updated_at, o.run_id
FROM vitibrasil.observations o JOIN vitibrasil.datasets d ON d.name = o.dataset
WHERE o.removed_at IS NULL;

COMMENT ON VIEW analytics.vitibrasil_observations IS
    'Embrapa Vitibrasil figures, one row per (dataset, category, item, year), as the latest crawl read them. '
    'Category rows (is_category) are totals of their items: filter them out before summing.';
COMMENT ON COLUMN analytics.vitibrasil_observations.dataset IS
    'One of the 15 tables: production, processing_*, commercialization, import_*, export_*.';
COMMENT ON COLUMN analytics.vitibrasil_observations.dataset_label IS 'The table''s heading on the site, in Portuguese.';
COMMENT ON COLUMN analytics.vitibrasil_observations.kind IS 'volume (quantity only) or trade (import/export: quantity and value_usd).';
COMMENT ON COLUMN analytics.vitibrasil_observations.category IS
    'Upper-level group ("VINHO DE MESA", "TINTAS"); NULL in trade datasets.';
COMMENT ON COLUMN analytics.vitibrasil_observations.item IS 'Product, grape variety or country.';
COMMENT ON COLUMN analytics.vitibrasil_observations.is_category IS
    'True for a category''s own row, which holds the total of its items.';
COMMENT ON COLUMN analytics.vitibrasil_observations.year IS 'Year of the figure.';
COMMENT ON COLUMN analytics.vitibrasil_observations.quantity IS
    'Quantity in unit; NULL when the source marks it unknown (nd, *, +), 0 when it says zero.';
COMMENT ON COLUMN analytics.vitibrasil_observations.unit IS 'L (litres: production, commercialization) or kg (the others).';
COMMENT ON COLUMN analytics.vitibrasil_observations.value_usd IS 'Value in US dollars (trade datasets only; NULL otherwise or when unknown).';
COMMENT ON COLUMN analytics.vitibrasil_observations.first_seen_at IS 'When a crawl first stored the figure.';
COMMENT ON COLUMN analytics.vitibrasil_observations.updated_at IS 'When a crawl last changed it.';
COMMENT ON COLUMN analytics.vitibrasil_observations.run_id IS 'The crawl run that last changed it (analytics.crawl_runs.id).';

-- Year columns 1970-2030, written out by a loop rather than by hand; a later
-- migration extends the range when the source reaches 2031.
DO $$
DECLARE
    v_first CONSTANT int := 1970;
    v_last  CONSTANT int := 2030;
    v_columns text;
BEGIN
    SELECT string_agg(format('max(quantity) FILTER (WHERE year = %1$s) AS quantity_%1$s', y), E',\n       ' ORDER BY y)
           || E',\n       ' ||
           string_agg(format('max(value_usd) FILTER (WHERE year = %1$s) AS value_usd_%1$s', y), E',\n       ' ORDER BY y)
    INTO v_columns
    FROM generate_series(v_first, v_last) AS y;

    EXECUTE format($sql$
        CREATE VIEW analytics.vitibrasil_by_year AS
        SELECT dataset, dataset_label, kind, category, item, is_category, unit,
               %s
        FROM analytics.vitibrasil_observations
        GROUP BY dataset, dataset_label, kind, category, item, is_category, unit
    $sql$, v_columns);

    FOR y IN v_first .. v_last LOOP
        EXECUTE format('COMMENT ON COLUMN analytics.vitibrasil_by_year.quantity_%1$s IS %2$L', y,
                       format('Quantity in %s, in unit; NULL when unknown or not published.', y));
        EXECUTE format('COMMENT ON COLUMN analytics.vitibrasil_by_year.value_usd_%1$s IS %2$L', y,
                       format('Value in US dollars in %s (trade datasets only).', y));
    END LOOP;
END
$$;

COMMENT ON VIEW analytics.vitibrasil_by_year IS
    'Vitibrasil year by year: one row per series (dataset, category, item), a quantity and a value column per year '
    'from 1970 to 2030, as the site''s tables and CSV files lay them out.';
COMMENT ON COLUMN analytics.vitibrasil_by_year.dataset IS 'One of the 15 Vitibrasil tables.';
COMMENT ON COLUMN analytics.vitibrasil_by_year.dataset_label IS 'The table''s heading on the site, in Portuguese.';
COMMENT ON COLUMN analytics.vitibrasil_by_year.kind IS 'volume or trade (trade rows have value_usd_* columns filled).';
COMMENT ON COLUMN analytics.vitibrasil_by_year.category IS 'Upper-level group; NULL in trade datasets.';
COMMENT ON COLUMN analytics.vitibrasil_by_year.item IS 'Product, grape variety or country.';
COMMENT ON COLUMN analytics.vitibrasil_by_year.is_category IS 'True for a category''s total row.';
COMMENT ON COLUMN analytics.vitibrasil_by_year.unit IS 'Unit of the quantity_* columns: L or kg.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        GRANT SELECT ON analytics.vitibrasil_observations, analytics.vitibrasil_by_year TO analyst;
    END IF;
END
$$;
