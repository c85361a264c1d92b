"""Price models trained from the crawled data: ``python -m ml train [name ...]``.

A component of its own beside ``crawler/`` and ``api/``, importing neither: it
reads the stored data, trains, evaluates against naive rules (wine_price: a
rolling-origin backtest, ml/forecast.py; book_price: held-out books,
ml/train.py), registers the version (ml.model_versions) and serves it
(ml/serving.py, which the API calls). See docs/ml.md.
"""
