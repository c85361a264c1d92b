"""When the worker crawls which spider, and with which arguments: read from the environment.

``CRAWL_SCHEDULE_<SPIDER>``
    A crontab in the worker's time zone (``TZ``; UTC on Heroku). Five fields,
    ``minute hour day month weekday`` with cron's weekdays (0 or 7 = Sunday),
    or six with seconds first (``*/5 * * * * *``: every 5 seconds). A spider
    without one is not scheduled.
``CRAWL_ARGS_<SPIDER>``
    Spider arguments as ``scrapy crawl -a`` takes them, shell-quoted:
    ``start_url=https://books.toscrape.com/index.html category='Historical Fiction'``.

``<SPIDER>`` is the spider's name in upper case, other characters than letters
and digits as ``_``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Mapping

from apscheduler.triggers.cron import CronTrigger

SCHEDULE_PREFIX = "CRAWL_SCHEDULE_"
ARGS_PREFIX = "CRAWL_ARGS_"
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


class ScheduleError(ValueError):
    """The environment asks for something the worker cannot do; the message says what."""


@dataclass(frozen=True)
class Schedule:
    spider: str
    spec: str
    trigger: CronTrigger = field(compare=False)
    args: dict[str, str]


def env_suffix(spider: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", spider.upper())


def cron_trigger(spec: str) -> CronTrigger:
    """A trigger from a 5-field crontab, or a 6-field one with seconds first."""
    fields = spec.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    if len(fields) != 6:
        raise ValueError(f"expected 5 fields (minute hour day month weekday) or 6 (seconds first), got {len(fields)}")
    second, minute, hour, day, month, weekday = fields
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=cron_weekdays(weekday))


def cron_weekdays(spec: str) -> str:
    """Cron's weekday field as day names for APScheduler.

    APScheduler 3 numbers weekdays from Monday = 0 (CronTrigger.from_crontab
    passes the numbers through), so "0 3 * * 1" would run on Tuesdays. Names
    mean the same to both.
    """
    if spec == "*":
        return spec
    days = set()
    for part in spec.lower().split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first, last = (_weekday(token) for token in span.split("-", 1))
        else:
            first = _weekday(span)
            last = 6 if step else first  # cron: "1/2" is "1-6/2"
        if last < first or (step and not step.isdigit()) or step == "0":
            raise ValueError(f"weekday field {spec!r}: cannot read {part!r}")
        days.update(day % 7 for day in range(first, last + 1, int(step or 1)))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in _WEEKDAYS and len(token) == 3:
        return _WEEKDAYS.index(token)
    raise ValueError(f"{token!r} is not a weekday (0-7 or sun-sat)")


def spider_args(text: str) -> dict[str, str]:
    args = {}
    for token in shlex.split(text):
        name, sep, value = token.partition("=")
        if not sep or not name:
            raise ValueError(f"{token!r} is not name=value")
        args[name] = value
    return args


def load(environ: Mapping[str, str], spiders: list[str]) -> list[Schedule]:
    """The schedules the environment sets for ``spiders``; ScheduleError listing every problem."""
    known = {env_suffix(name): name for name in spiders}
    problems = [
        f"{name} names no spider (spiders: {', '.join(sorted(spiders))})"
        for name in sorted(environ)
        for prefix in (SCHEDULE_PREFIX, ARGS_PREFIX)
        if name.startswith(prefix) and name[len(prefix):] not in known
    ]
    schedules = []
    for suffix, spider in sorted(known.items()):
        spec = environ.get(SCHEDULE_PREFIX + suffix, "").strip()
        if not spec:
            continue
        try:
            trigger = cron_trigger(spec)
        except ValueError as exc:
            problems.append(f"{SCHEDULE_PREFIX}{suffix}={spec!r}: {exc}")
            continue
        try:
            args = spider_args(environ.get(ARGS_PREFIX + suffix, ""))
        except ValueError as exc:
            problems.append(f"{ARGS_PREFIX}{suffix}: {exc}")
            continue
        schedules.append(Schedule(spider, spec, trigger, args))
    if problems:
        raise ScheduleError("; ".join(problems))
    return schedules
