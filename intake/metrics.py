"""What an operator watches, in the Prometheus text format: counts and timings, never a person.

Timings and counters are kept in the process that measures them (the web server; a Zalo worker
process's own steps are timed by the server around the call). Counts of cases and of the outbox are
read from the database when /metrics is scraped, so every server of a deployment reports the same
figures. No label carries a name, a chat, a receipt or a text: the labels are channels, statuses and
committee levels.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()

WEBHOOK_SECONDS = Histogram(
    "phananh_webhook_answer_seconds",
    "Time from a webhook call's arrival to its HTTP answer, by channel.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "phananh_conversation_step_seconds",
    "Time to take one resident's message through the conversation (classifier and filing included), by channel.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SIGN_IN_FAILURES = Counter(
    "phananh_sign_in_failures",
    "Staff sign-ins refused (wrong name, password or code, or throttled); no name is kept.",
    registry=REGISTRY,
)


class DatabaseCollector(Collector):
    """Case and outbox counts, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        from intake.db import get_engine
        from intake.deadlines import local_today
        from intake.models import Case, CaseStatus, Committee, OutboxMessage, OutboxStatus

        cases = GaugeMetricFamily("phananh_cases", "Cases by status and by the level of the committee holding them.", labels=["status", "level"])
        overdue = GaugeMetricFamily("phananh_cases_overdue", "Forwarded cases whose answer deadline has passed.")
        outbox = GaugeMetricFamily("phananh_outbox_messages", "Staff messages to residents not delivered yet (pending) or given up (dead).", labels=["status"])
        case, committee, message = Case.__table__, Committee.__table__, OutboxMessage.__table__  # type: ignore[attr-defined]
        with get_engine().connect() as conn:
            by_status = conn.execute(
                sa.select(case.c.status, committee.c.level, sa.func.count())
                .select_from(case.join(committee, case.c.committee_id == committee.c.id))
                .group_by(case.c.status, committee.c.level)
            ).all()
            late = conn.execute(
                sa.select(sa.func.count()).select_from(case).where(case.c.status == CaseStatus.FORWARDED.value, case.c.due_on < local_today())
            ).scalar_one()
            waiting: dict[str, int] = dict(
                conn.execute(
                    sa.select(message.c.status, sa.func.count())
                    .where(message.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.DEAD.value]))
                    .group_by(message.c.status)
                ).all()
            )
        for status, level, n in by_status:
            cases.add_metric([str(status), str(level)], float(n))
        overdue.add_metric([], float(late))
        outbox.add_metric(["pending"], float(waiting.get(OutboxStatus.PENDING.value, 0) + waiting.get(OutboxStatus.SENDING.value, 0)))
        outbox.add_metric(["dead"], float(waiting.get(OutboxStatus.DEAD.value, 0)))
        yield cases
        yield overdue
        yield outbox


REGISTRY.register(DatabaseCollector())
