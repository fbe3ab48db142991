"""Static files for residents on slow mobile data: compressed, cached for a year, renamed by content.

A page links each file with its content's hash in the query (`chat.js?v=3f2a9c1e`), so a browser
may keep it for a year and a new version is a new URL. A request without that hash (or with an old
one) is answered as usual but must be revalidated (ETag). Starlette's StaticFiles serves the files
and its GZipMiddleware compresses them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"
REVALIDATE = "no-cache"


class _CachedStatic(StaticFiles):
    """StaticFiles with Cache-Control: a year for the current version's URL, revalidation otherwise."""

    def __init__(self, *, directory: Path, versions: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self.versions = versions

    def file_response(self, full_path: object, stat_result: object, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)  # type: ignore[arg-type]
        name = self.get_path(scope).replace("\\", "/").lstrip("/")
        query = scope.get("query_string", b"").decode("latin-1")
        current = self.versions.get(name)
        fresh = current is not None and f"v={current}" in query.split("&")
        response.headers["Cache-Control"] = IMMUTABLE if fresh else REVALIDATE
        return response


class Assets:
    """One folder of static files: the URLs a page links, and the ASGI app that serves them."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix.rstrip("/")
        self.versions = {
            str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    def url(self, name: str) -> str:
        """The URL of a file with its version, for a page to link."""
        return f"{self.prefix}/{name}?v={self.versions[name]}"

    def app(self) -> ASGIApp:
        """Serves the folder, compressed when the browser accepts it (files over 500 bytes)."""
        return GZipMiddleware(_CachedStatic(directory=self.directory, versions=self.versions), minimum_size=500)
