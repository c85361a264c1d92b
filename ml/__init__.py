"""Price models trained from the crawled data: ``python -m ml train [name ...]``.

A component of its own beside ``crawler/`` and ``api/``, importing neither: it
reads the feature views of the schema (migrations/0010_ml_models.sql), trains,
evaluates on held-out rows against a naive baseline, and registers the version
(ml.model_versions) that the API serves. See docs/ml.md.
"""
