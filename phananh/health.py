"""/healthz, /readyz and /metrics: for the proxy, the supervisor and the operator's monitoring.

/healthz says the process answers. /readyz says it can serve residents: the database answers, its
schema is at the newest migration, the classifier and the committee tree (in the database and the
gazetteer in memory) are loaded. Both tell nothing but which check failed.

/metrics (Prometheus text format) carries no personal data, but how many cases a committee level
holds is not for the public either: it answers a client on this machine (the address as the server
sees it, behind a proxy the address the proxy forwards) or one that sends the bearer token
PHANANH_METRICS_TOKEN, and 404 to anyone else. The address is compared, never stored or logged.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intake.config import get_settings
from intake.metrics import REGISTRY

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@functools.cache
def schema_head() -> str | None:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    from intake.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def readiness() -> dict[str, bool]:
    """Each readiness check and whether it passes."""
    from intake.classify import is_loaded
    from intake.db import get_engine
    from intake.places.gazetteer import get_gazetteer

    checks = {"database": False, "migrations": False, "classifier": is_loaded(), "committees": False}
    try:
        with get_engine().connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            checks["database"] = True
            checks["migrations"] = version is not None and version == schema_head()
            committees = conn.execute(sa.text("SELECT 1 FROM committees LIMIT 1")).first()
            checks["committees"] = committees is not None and get_gazetteer.cache_info().currsize > 0
    except sa.exc.SQLAlchemyError as err:
        log.warning("readiness: database check failed (%s)", type(err).__name__)
    return checks


@router.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
def readyz() -> Response:
    """200 when every check passes, else 503 naming the ones that failed."""
    checks = readiness()
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})


def _may_read_metrics(request: Request) -> bool:
    token = get_settings().metrics_token.get_secret_value()
    given = request.headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The Prometheus exposition, to this machine or the bearer of the metrics token; 404 to anyone else."""
    if not _may_read_metrics(request):
        return Response(status_code=404)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
