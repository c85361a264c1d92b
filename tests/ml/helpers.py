"""Helpers of the model tests."""

from __future__ import annotations

import migrations
from ml import registry
from ml.models import MODELS
from ml.train import train


def train_models(db_url: str, *names: str) -> list:
    """Train and register ``names`` in-process as ``python -m ml train`` does; their ml.train.Trained."""
    conn = migrations.connect(db_url)
    try:
        trained = [train(conn, MODELS[name]) for name in names]
        for t in trained:
            registry.register(conn, t)
        return trained
    finally:
        conn.close()
