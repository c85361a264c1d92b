"""``python -m crawler.worker``: crawl each spider on its schedule (crawler/schedules.py).

Every crawl is ``scrapy crawl <spider>`` in a child process, run only while
this process holds a PostgreSQL advisory lock keyed by the spider, on a
connection of its own: two crawls of one spider never overlap, whichever
worker process or dyno they start from. Each firing is logged and recorded in
``scheduled_crawls``: skipped (the lock is held elsewhere), or the crawl's end
with its exit code and ``crawl_runs`` row. A failed crawl does not stop the worker.

SIGTERM or SIGINT: no new crawl starts, the running ones get one SIGTERM and
stop gracefully (Scrapy merges what they staged and marks the run
interrupted); after WORKER_STOP_TIMEOUT seconds (default 25: Heroku kills at
30) stragglers are killed and their staged items merged here before exiting.

Price models: after a crawl whose merge changed rows, the models trained on
that spider's data are retrained by ``python -m ml train --source <spider>`` in
a child process (the crawler never imports ml/; ``ML_TRAIN_AFTER_CRAWL=0``
turns it off), and all of them on ``ML_TRAIN_SCHEDULE`` (a crontab) if set.
ml/ takes an advisory lock (two trainings never overlap) and records each
training in ml.trainings; a failed one leaves the served version in place.

Exit status: 0 after a stop by signal, 2 when the configuration or the
database is unusable at start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

import migrations
from migrations import logs
from crawler import outcome, schedules
from crawler.schedules import Schedule, ScheduleError
from crawler.store import COUNTS, CrawlStore, ScheduleLedger

logger = logging.getLogger("crawler.worker")

RECORD_SECONDS = 4  # after the stop timeout: time left to kill stragglers and record them before Heroku's SIGKILL
WORKER_NAME = f"{os.environ.get('DYNO') or socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, schedule_list: list[Schedule], url: str, item_classes: list, stop_timeout: float,
                 train_schedule: Schedule | None = None, train_after_crawl: bool = True):
        self.schedules = schedule_list
        self.train_schedule = train_schedule
        self.train_after_crawl = train_after_crawl
        self.url = url
        self.item_classes = item_classes
        self.stop_timeout = stop_timeout
        self.stopping = threading.Event()
        self.children: set[subprocess.Popen] = set()
        self.children_lock = threading.Lock()
        self.jobs = 0
        self.jobs_done = threading.Condition()
        # Heroku signals every process of a dyno: the crawl gets its SIGTERM
        # there, and a second one would make Scrapy stop uncleanly.
        self.forward_sigterm = "DYNO" not in os.environ
        self.scheduler = BlockingScheduler(
            # Overlapping firings still run, to be refused by the lock and recorded.
            job_defaults={"coalesce": True, "max_instances": 3, "misfire_grace_time": 60},
        )

    def run(self) -> int:
        for schedule in self.schedules:
            self.scheduler.add_job(self.crawl, schedule.trigger, args=[schedule], id=schedule.spider,
                                         name=f"crawl {schedule.spider}")
            logger.info("Scheduled %s at %r with arguments %s", schedule.spider, schedule.spec, schedule.args,
                        extra={"spider": schedule.spider, "schedule": schedule.spec})
        if self.train_schedule:
            self.scheduler.add_job(self.train, self.train_schedule.trigger, args=["schedule"], id="ml train",
                                   name="train models")
            logger.info("Scheduled model training at %r", self.train_schedule.spec)
        # Handlers once the scheduler runs, so that a stop can always shut it down;
        # before that no crawl exists and the default action (exit) is right.
        self.scheduler.add_listener(self._install_signal_handlers, EVENT_SCHEDULER_STARTED)
        self.scheduler.start()
        self._finish_crawls()
        logger.info("Worker stopped")
        return 0

    # Signals ----------------------------------------------------------------------
    def _install_signal_handlers(self, _event) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for job in self.scheduler.get_jobs():
            logger.info("Next crawl of %s at %s", job.id, job.next_run_time, extra={"spider": job.id})

    def _stop(self, signum, _frame) -> None:
        # No logging here: the interrupted code may be writing to the same stream.
        if self.stopping.is_set():
            return
        self.stopping.set()
        with self.children_lock:
            children = list(self.children)
        if self.forward_sigterm:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        # shutdown() takes locks the interrupted main loop may hold: from another thread.
        threading.Thread(target=self._shutdown_scheduler, daemon=True).start()

    def _shutdown_scheduler(self) -> None:
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def _finish_crawls(self) -> None:
        """Wait for running crawls to stop; kill them at the timeout, then let their jobs record it."""
        with self.jobs_done:
            if self.jobs:
                logger.info("Stopping: waiting up to %ss for %d crawl(s)", self.stop_timeout, self.jobs)
            if self.jobs_done.wait_for(lambda: not self.jobs, timeout=self.stop_timeout):
                return
        with self.children_lock:
            stragglers = list(self.children)
        for child in stragglers:
            logger.warning("Crawl pid %s still running after %ss: killing it", child.pid, self.stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                child.kill()
        with self.jobs_done:
            self.jobs_done.wait_for(lambda: not self.jobs, timeout=RECORD_SECONDS)

    # One firing of a schedule --------------------------------------------------------
    def crawl(self, schedule: Schedule) -> None:
        with self.jobs_done:
            self.jobs += 1
        try:
            if not self.stopping.is_set():
                self._crawl(schedule)
        except Exception:
            logger.exception("Scheduled crawl of %s: the worker failed", schedule.spider,
                             extra={"spider": schedule.spider})
        finally:
            with self.jobs_done:
                self.jobs -= 1
                self.jobs_done.notify_all()

    def _crawl(self, schedule: Schedule) -> None:
        spider = schedule.spider
        try:
            ledger = ScheduleLedger.open(self.url, spider, WORKER_NAME)
        except migrations.DatabaseUnavailable as exc:
            logger.error("Crawl of %s not started: %s", spider, exc, extra={"spider": spider, "outcome": "failed"})
            return
        try:  # closing the connection releases the lock, whatever happens
            if not ledger.try_lock():
                detail = f"another crawl of {spider} is running (lock held by {ledger.lock_holder()})"
                ledger.skipped(detail)
                logger.warning("Crawl of %s skipped: %s", spider, detail,
                               extra={"spider": spider, "outcome": "skipped"})
                return
            run = self._run_locked(ledger, schedule)
        finally:
            ledger.close()
        # After the spider's lock is released: a training does not hold up the next crawl.
        if self.train_after_crawl and run and any(run[k] for k in ("inserted", "updated", "removed")):
            self._train(f"after crawl run {run['id']} ({spider})", "--source", spider)

    def train(self, trigger: str) -> None:
        """A firing of ML_TRAIN_SCHEDULE: every model."""
        with self.jobs_done:
            self.jobs += 1
        try:
            self._train(trigger)
        finally:
            with self.jobs_done:
                self.jobs -= 1
                self.jobs_done.notify_all()

    def _train(self, trigger: str, *args: str) -> None:
        command = [sys.executable, "-m", "ml", "train", *args, "--trigger", trigger, "--wait"]
        with self.children_lock:
            if self.stopping.is_set():
                return
            child = subprocess.Popen(command, cwd=migrations.ROOT, start_new_session=True)
            self.children.add(child)
        try:
            code = child.wait()
        finally:
            with self.children_lock:
                self.children.discard(child)
        logger.log(logging.INFO if code == 0 else logging.ERROR, "Model training %s ended (exit code %s)",
                   trigger, code, extra={"trigger": trigger, "exit_code": code})

    def _run_locked(self, ledger: ScheduleLedger, schedule: Schedule) -> dict | None:
        spider = schedule.spider
        record_id, started_at = ledger.begin()
        began = time.monotonic()
        child = self._spawn(schedule)
        if child is None:
            ledger.end(record_id, "interrupted", None, None, "the worker was stopping; crawl not started")
            return None
        logger.info("Crawl of %s started (pid %s)", spider, child.pid, extra={"spider": spider, "pid": child.pid})
        try:
            code = child.wait()
        finally:
            with self.children_lock:
                self.children.discard(child)
        run = ledger.run_of(child.pid, started_at)
        if run and run["status"] == "running":  # killed before its merge: merge now, as the next run would
            self._recover(spider)
            run = ledger.run(run["id"])
        result, detail = outcome.of_exit(code, run, self.stopping.is_set())
        ledger.end(record_id, result, code, run and run["id"], detail)
        counts = {k: run[k] for k in COUNTS} if run else {}
        fields = {"spider": spider, "outcome": result, "exit_code": code, "run_id": run and run["id"],
                  "duration_s": round(time.monotonic() - began, 3), **counts}
        level = {"finished": logging.INFO, "interrupted": logging.WARNING}.get(result, logging.ERROR)
        logger.log(level, "Crawl of %s %s (exit code %s): %s", spider, result, code, detail, extra=fields)
        return run

    def _spawn(self, schedule: Schedule) -> subprocess.Popen | None:
        command = [sys.executable, "-m", "scrapy", "crawl", schedule.spider]
        for name, value in schedule.args.items():
            command += ["-a", f"{name}={value}"]
        with self.children_lock:
            if self.stopping.is_set():
                return None
            # Own session: a terminal's Ctrl-C reaches the worker only, which forwards exactly one SIGTERM.
            child = subprocess.Popen(command, cwd=migrations.ROOT, start_new_session=True)
            self.children.add(child)
        return child

    def _recover(self, spider: str) -> None:
        try:
            store = CrawlStore.open(self.url, self.item_classes)
        except migrations.DatabaseUnavailable as exc:
            logger.error("Staged items of %s not merged (the next run will): %s", spider, exc,
                         extra={"spider": spider})
            return
        try:
            for run_id, counts in store.recover_orphans(spider):
                logger.warning("Merged the staged items of interrupted run %s: %s", run_id, counts,
                               extra={"spider": spider, "run_id": run_id})
        finally:
            store.close()


def main() -> int:
    logs.configure()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # the worker logs each crawl itself
    settings = get_project_settings()
    spiders = get_spider_loader(settings).list()
    try:
        schedule_list = schedules.load(os.environ, spiders)
        stop_timeout = float(os.environ.get("WORKER_STOP_TIMEOUT", 25))
        train_spec = os.environ.get("ML_TRAIN_SCHEDULE")
        try:
            train_schedule = train_spec and Schedule("ml train", train_spec, schedules.cron_trigger(train_spec), {})
        except ValueError as exc:
            raise ScheduleError(f"ML_TRAIN_SCHEDULE={train_spec!r}: {exc}") from exc
    except (ScheduleError, ValueError) as exc:
        logger.error("Worker not started: %s", exc)
        return 2
    if not schedule_list and not train_schedule:
        names = ", ".join(schedules.SCHEDULE_PREFIX + schedules.env_suffix(s) for s in spiders)
        logger.error("Worker not started: no spider has a schedule; set one of %s", names)
        return 2
    url = migrations.database_url(settings.get("DATABASE_URL"))
    item_classes = [load_object(path) for path in settings.getlist("POSTGRES_ITEM_CLASSES")]
    try:  # scheduled_crawls must exist before the first firing, and the role must be able to write
        CrawlStore.open(url, item_classes).close()
    except migrations.DatabaseUnavailable as exc:
        logger.error("Worker not started: %s", exc)
        return 2
    return Worker(schedule_list, url, item_classes, stop_timeout, train_schedule or None,
                  os.environ.get("ML_TRAIN_AFTER_CRAWL", "1") != "0").run()


if __name__ == "__main__":
    sys.exit(main())
