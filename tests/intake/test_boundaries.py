"""The core stays free of channels and web frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

import intake

FORBIDDEN = ("telegram", "fastapi", "starlette", "uvicorn", "zalo", "bot", "admin", "phananh", "jinja2", "httpx")


def test_intake_imports_no_channel_or_web_framework() -> None:
    """No module under intake/ imports Telegram, Zalo, FastAPI or the edges that use them."""
    root = Path(intake.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
