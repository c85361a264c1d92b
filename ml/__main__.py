"""``python -m ml train [name ...]``: train, evaluate and register the price models.

Prints one line of metrics per model. Exit status: 0 every model trained and
registered; 1 one could not be trained (no data, too little data, a failure:
its current version stays active); 2 the database is unreachable or the usage
is wrong; 3 another training is running (nothing trained).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import migrations
from migrations import DatabaseUnavailable
from ml import registry, tracking
from ml.catalog import MODELS
from ml.train import Trained, TrainingError

logger = logging.getLogger("ml")


class Interrupted(BaseException):
    """SIGTERM (the worker stopping): the training is recorded failed, the active version stays."""


def _interrupt(signum, _frame):
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


def summary(trained: Trained, version: int) -> str:
    if trained.horizons:
        horizons = "; ".join(
            f"h{h['horizon']} ratio {h['ratio']:.3f} ({h['ratio_low']:.3f}-{h['ratio_high']:.3f}) to {h['strongest_naive']},"
            f" serves {h['serves']}" for h in trained.horizons if not h["scenario"])
        return (f"{trained.name} v{version}: rolling-origin backtest, MAE ratio to the strongest naive rule"
                f" (95% bootstrap over series): {horizons}")
    unit = MODELS[trained.name].unit
    ratio = trained.model_mae / trained.baseline_mae if trained.baseline_mae else float("inf")
    return (f"{trained.name} v{version}: serves the {trained.serves}; held-out MAE {trained.model_mae:.4f} {unit}"
            f" ({trained.algorithm}, features {trained.params['feature_set']}) vs baseline {trained.baseline_mae:.4f}"
            f" ({trained.baseline}), ratio {ratio:.3f}; MAPE {trained.model_mape:.1f}% vs {trained.baseline_mape:.1f}%;"
            f" {trained.train_size} training / {trained.heldout_size} held-out rows")


def train_model(conn, name: str, protocol=None) -> Trained:
    """Train ``name`` (not registered yet); ``protocol``: wine_price's backtest size (tests shrink it)."""
    if name == "wine_price":
        from ml import forecast
        return forecast.train(conn, protocol)
    from ml.models import SPECS
    from ml.train import train
    return train(conn, SPECS[name])


def train_all(conn, names: list[str], trigger: str, wait: bool = False) -> int:
    if wait:
        registry.lock(conn)
    elif not registry.try_lock(conn):
        for name in names:
            registry.start(conn, name, trigger, status="skipped", detail="another training was running")
        print("error: another training is running (it holds the training lock): nothing trained", file=sys.stderr)
        return 3
    if orphans := registry.close_orphans(conn):
        logger.warning("%d training(s) left running by a dead process recorded as failed", orphans)
    status = 0
    for name in names:
        training = registry.start(conn, name, trigger)
        try:
            trained = train_model(conn, name)
            version_id, version = registry.register(conn, trained)
        except TrainingError as exc:
            registry.finish(conn, training, "failed", detail=str(exc))
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        except Interrupted as exc:
            registry.finish(conn, training, "failed", detail=str(exc))
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # recorded, and the active version stays
            logger.exception("training %s failed", name)
            registry.finish(conn, training, "failed", detail=f"{type(exc).__name__}: {exc}")
            print(f"error: {name}: training failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 1
            continue
        registry.finish(conn, training, "finished", version_id=version_id)
        print(summary(trained, version), flush=True)
        try:  # a copy for browsing: the registered version stands whatever MLflow answers
            tracking.log(trained, version)
        except Exception as exc:
            logger.warning("training %s v%d not logged to MLflow", name, version, exc_info=True)
            print(f"warning: {name} v{version}: not logged to MLflow: {type(exc).__name__}: {exc}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("train", help="train and register models (all by default)")
    command.add_argument("names", nargs="*", metavar="name", help=f"one of {', '.join(MODELS)}")
    command.add_argument("--source", choices=sorted({m.source for m in MODELS.values()}),
                         help="only the models trained on this crawler's data (the worker, after a crawl)")
    command.add_argument("--trigger", default="cli", help="what asked for the training (recorded)")
    command.add_argument("--wait", action="store_true", help="wait for a running training instead of exiting 3")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)} (known: {', '.join(MODELS)})")
    names = [name for name in args.names or MODELS if args.source in (None, MODELS[name].source)]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        conn = migrations.connect(application_name="ml train")
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        migrations.migrate(conn)
        return train_all(conn, names, args.trigger, args.wait)
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
