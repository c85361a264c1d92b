-- wine_price forecasts 1 to 3 years ahead, evaluated by a rolling-origin backtest
-- (ml/forecast.py, docs/ml.md).
--
-- The features are no longer a view computed per request: each registered
-- wine_price version stores the trade and volume figures it was trained on
-- (ml.wine_trade, ml.brazil_volumes, written in the transaction that makes it
-- active), so a prediction is an indexed lookup of a series' last years plus a
-- model call, and always reads the data of the version that answers.

DROP VIEW ml.wine_price_features;

CREATE TABLE ml.wine_trade (
    dataset   text     NOT NULL REFERENCES vitibrasil.datasets (name),
    country   text     NOT NULL,
    year      smallint NOT NULL,
    quantity  float8   CHECK (quantity >= 0),   -- kg
    value_usd float8   CHECK (value_usd >= 0),
    price     float8   CHECK (price > 0),       -- US$/kg: value_usd / quantity when both are positive
    PRIMARY KEY (dataset, country, year)
);
COMMENT ON TABLE ml.wine_trade IS
    'The trade figures (one row per dataset, country and year) the active wine_price version was trained on.';

CREATE TABLE ml.brazil_volumes (
    year              smallint PRIMARY KEY,
    production        float8,  -- L, total of the production categories
    processing        float8,  -- kg, grapes processed (all processing datasets)
    commercialization float8   -- L, total of the commercialization categories
);
COMMENT ON TABLE ml.brazil_volumes IS
    'Brazil''s yearly volumes the active wine_price version was trained on (its scenario drivers).';

-- A version with a backtest (wine_price) states its activation per horizon in
-- ml.version_horizons; the held-out rule of model_versions stays for the others.
ALTER TABLE ml.model_versions ADD COLUMN backtest jsonb;
ALTER TABLE ml.model_versions DROP CONSTRAINT model_versions_check;
ALTER TABLE ml.model_versions ADD CONSTRAINT model_versions_activation_check
    CHECK (backtest IS NOT NULL OR (serves = 'model') = (model_mae < baseline_mae));
COMMENT ON COLUMN ml.model_versions.backtest IS
    'wine_price: the rolling-origin backtest per horizon, family and rule (docs/ml.md).';

-- What each horizon of a version serves. The activation rule is a constraint:
-- the model only where the upper end of the bootstrap interval of its MAE ratio
-- to the strongest naive rule is below 1; otherwise that naive rule.
CREATE TABLE ml.version_horizons (
    version_id      bigint  NOT NULL REFERENCES ml.model_versions (id),
    scenario        boolean NOT NULL,  -- the model conditioned on the target year's drivers
    horizon         integer NOT NULL CHECK (horizon BETWEEN 1 AND 3),
    strongest_naive text    NOT NULL CHECK (strongest_naive IN ('last_price', 'mean_3', 'median_3')),
    ratio           float8  NOT NULL CHECK (ratio >= 0),  -- backtest MAE, model / strongest naive rule
    ratio_low       float8  NOT NULL,  -- its 95% bootstrap interval over series
    ratio_high      float8  NOT NULL,
    serves          text    NOT NULL,
    -- |log(actual / predicted)| of what is served, out of sample (the conformal calibration set), sorted
    residuals       float8[] NOT NULL CHECK (cardinality(residuals) > 0),
    PRIMARY KEY (version_id, scenario, horizon),
    CHECK (ratio_low <= ratio_high),
    CHECK ((serves = 'model') = (ratio_high < 1)),
    CHECK (serves IN ('model', strongest_naive))
);
COMMENT ON TABLE ml.version_horizons IS
    'Per version and horizon: the backtest ratio to the strongest naive rule, what is served, its calibration residuals.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT SELECT ON ml.wine_trade, ml.brazil_volumes, ml.version_horizons TO api_reader;
    END IF;
END
$$;
