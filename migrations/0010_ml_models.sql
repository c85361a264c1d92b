-- Price models (ml/, `python -m ml train`): the features both the trainer and the
-- API read (views: the schema is the contract, so the two never compute them
-- differently), the registry of trained versions with their honest metrics and
-- artifacts, and the record of every training. The API only reads them.

CREATE SCHEMA ml;
COMMENT ON SCHEMA ml IS 'Price models: feature views, registered model versions, trainings.';

-- wine_price: one row per trade series (dataset, country) and year, from the
-- series' first year to one year past the data (the year to forecast). Every
-- feature comes from EARLIER years only; price (US$/kg) is the target, NULL
-- when that year has no positive quantity and value (or is the future).
CREATE VIEW ml.wine_price_features AS
WITH trade AS (
    SELECT o.dataset, o.item AS country, o.year::integer AS year,
           o.quantity::float8 AS quantity, o.value_usd::float8 AS value_usd,
           CASE WHEN o.quantity > 0 AND o.value_usd > 0 THEN (o.value_usd / o.quantity)::float8 END AS price
    FROM vitibrasil.observations o
    WHERE o.removed_at IS NULL AND o.dataset IN (SELECT name FROM vitibrasil.datasets WHERE kind = 'trade')
),
rows AS (  -- the stored years, and one more per series: the year to forecast
    SELECT * FROM trade
    UNION ALL
    SELECT DISTINCT dataset, country, (SELECT max(year) FROM trade) + 1, NULL::float8, NULL::float8, NULL::float8
    FROM trade
),
dataset_year AS (  -- each dataset's price over all countries, a year and two years before
    SELECT dataset, year,
           max(price) OVER (w RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS price_1,
           max(price) OVER (w RANGE BETWEEN 2 PRECEDING AND 2 PRECEDING) AS price_2,
           max(quantity) OVER (w RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS quantity_1
    FROM (SELECT dataset, year, sum(value_usd) FILTER (WHERE price IS NOT NULL)
                                / nullif(sum(quantity) FILTER (WHERE price IS NOT NULL), 0) AS price,
                 sum(quantity) AS quantity
          FROM rows GROUP BY 1, 2) d
    WINDOW w AS (PARTITION BY dataset ORDER BY year)
),
brazil AS (  -- Brazil's own volumes (category rows hold the totals of their items)
    SELECT year + 1 AS year,  -- as features of the next year
           sum(quantity) FILTER (WHERE dataset = 'production' AND is_category)::float8        AS production_1,
           sum(quantity) FILTER (WHERE dataset LIKE 'processing%'
                                   AND (is_category OR category IS NULL))::float8             AS processing_1,
           sum(quantity) FILTER (WHERE dataset = 'commercialization' AND is_category)::float8 AS commercialization_1
    FROM vitibrasil.observations
    WHERE removed_at IS NULL AND dataset IN (SELECT name FROM vitibrasil.datasets WHERE kind = 'volume')
    GROUP BY year
),
series AS (  -- RANGE frames: "1 PRECEDING" is the calendar year before, even across gaps
    SELECT dataset, country, year, price,
           max(price) OVER (w RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING)    AS price_1,
           max(price) OVER (w RANGE BETWEEN 2 PRECEDING AND 2 PRECEDING)    AS price_2,
           max(price) OVER (w RANGE BETWEEN 3 PRECEDING AND 3 PRECEDING)    AS price_3,
           avg(price) OVER (w RANGE BETWEEN 5 PRECEDING AND 1 PRECEDING)    AS price_mean_5,
           count(price) OVER (w RANGE BETWEEN 5 PRECEDING AND 1 PRECEDING)  AS priced_years_5,
           max(quantity) OVER (w RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS quantity_1,
           max(quantity) OVER (w RANGE BETWEEN 2 PRECEDING AND 2 PRECEDING) AS quantity_2,
           max(value_usd) OVER (w RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS value_1
    FROM rows
    WINDOW w AS (PARTITION BY dataset, country ORDER BY year)
)
SELECT s.dataset, s.country, s.year,
       s.price_1, s.price_2, s.price_3, s.price_mean_5, s.priced_years_5,
       ln(s.price_1 / s.price_2)                   AS log_change_1,
       ln(s.price_1 / s.price_3)                   AS log_change_2,
       ln(s.price_1 / s.price_mean_5)              AS log_to_mean_5,
       s.quantity_1, s.value_1,
       ln((s.quantity_1 + 1) / (s.quantity_2 + 1)) AS log_quantity_change_1,
       d.price_1                                   AS dataset_price_1,
       ln(s.price_1 / d.price_1)                   AS log_to_dataset_price_1,
       ln(d.price_1 / d.price_2)                   AS dataset_log_change_1,
       s.quantity_1 / nullif(d.quantity_1, 0)      AS dataset_share_1,
       b.production_1 AS brazil_production_1, b.processing_1 AS brazil_processing_1,
       b.commercialization_1 AS brazil_commercialization_1,
       s.price
FROM series s
JOIN dataset_year d USING (dataset, year)
LEFT JOIN brazil b USING (year);

COMMENT ON VIEW ml.wine_price_features IS
    'wine_price features: per trade dataset, country and year (up to one past the data), figures of earlier years '
    'only (*_1: the year before, *_2: two years before); price = value_usd / quantity in US$/kg, the target.';

-- book_price: one row per listed book.
CREATE VIEW ml.book_price_features AS
SELECT b.id AS book_id, c.name AS category, b.rating, b.availability, b.review_count,
       coalesce(length(b.description), 0) AS description_length, b.price
FROM books b JOIN categories c ON c.id = b.category_id
WHERE b.removed_at IS NULL;

COMMENT ON VIEW ml.book_price_features IS 'book_price features: one row per listed book; price (GBP) is the target.';

-- One row per trained version of a model. The activation rule lives here as a
-- constraint: a version serves its model only when the model's held-out MAE
-- is below the baseline's; otherwise it serves (and stores) the baseline.
CREATE TABLE ml.model_versions (
    id              bigserial        PRIMARY KEY,
    name            text             NOT NULL CHECK (name ~ '^[a-z][a-z_]*$'),
    version         integer          NOT NULL CHECK (version > 0),
    trained_at      timestamptz      NOT NULL DEFAULT now(),
    algorithm       text             NOT NULL,  -- of the trained model
    params          jsonb            NOT NULL,
    baseline        text             NOT NULL,  -- the naive rule it is compared with
    feature_view    text             NOT NULL,  -- ml.<view> the features come from
    features        text[]           NOT NULL,  -- its columns, in the artifact's input order
    scale_feature   text,            -- the prediction is the artifact's output times this feature
    crawl_run_ids   bigint[]         NOT NULL,  -- the runs that last changed the rows trained on
    data_version    bigint,          -- data_versions.version of the source when trained (NULL before 0009)
    train_size      integer          NOT NULL CHECK (train_size > 0),
    heldout_size    integer          NOT NULL CHECK (heldout_size > 0),
    model_mae       double precision NOT NULL,  -- on the held-out rows, in the target's unit
    model_mape      double precision NOT NULL,  -- percent
    baseline_mae    double precision NOT NULL,
    baseline_mape   double precision NOT NULL,
    serves          text             NOT NULL CHECK (serves IN ('model', 'baseline')),
    artifact        bytea            NOT NULL,  -- skops format: loads without running code
    artifact_sha256 text             NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
    status          text             NOT NULL CHECK (status IN ('active', 'retired')),
    UNIQUE (name, version),
    CHECK ((serves = 'model') = (model_mae < baseline_mae)),
    CHECK (array_position(features, scale_feature) IS NOT NULL OR scale_feature IS NULL)
);
CREATE UNIQUE INDEX model_versions_active_idx ON ml.model_versions (name) WHERE status = 'active';

COMMENT ON TABLE ml.model_versions IS
    'Trained model versions with held-out metrics of the model and its baseline; the active one is served.';

-- Every training, like crawl_runs: running, then finished (with its version), failed or skipped.
CREATE TABLE ml.trainings (
    id          bigserial   PRIMARY KEY,
    model       text        NOT NULL,
    status      text        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed', 'skipped')),
    trigger     text        NOT NULL,  -- cli, or what made the worker train
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    version_id  bigint      REFERENCES ml.model_versions (id),
    detail      text,       -- why it failed or was skipped
    host        text,
    pid         integer,
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK ((status = 'finished') = (version_id IS NOT NULL))
);
CREATE INDEX trainings_model_started_idx ON ml.trainings (model, started_at DESC);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT USAGE ON SCHEMA ml TO api_reader;
        GRANT SELECT ON ml.wine_price_features, ml.book_price_features, ml.model_versions, ml.trainings
            TO api_reader;
    END IF;
END
$$;
