"""Extracts msgids into locales/phananh.pot and updates the vi and en catalogs.

Usage: python scripts/update_locales.py [--merge translations.json ...]
A merge file is a JSON object {msgid: Vietnamese} (a message with a context: "context\x04msgid");
it fills only empty or changed entries.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "locales" / "phananh.pot"


def _po(lang: str) -> Path:
    return ROOT / "locales" / lang / "LC_MESSAGES" / "phananh.po"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--merge", action="append", default=[], type=Path)
    args = parser.parse_args()
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run(
        [*pybabel, "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_", "-k", "N_", "-k", "pgettext:1c,2", "--no-location", "--sort-output",
         "--project=phananh", "-o", str(POT), str(ROOT)],
        check=True, cwd=ROOT, capture_output=True,
    )
    with POT.open("rb") as fh:
        template = read_po(fh)
    extra: dict[str, str] = {}
    for path in args.merge:
        extra.update(json.loads(path.read_text(encoding="utf-8")))
    for lang in ("vi", "en"):
        path = _po(lang)
        old: Catalog
        if path.exists():
            with path.open("rb") as fh:
                old = read_po(fh, locale=lang)
        else:
            old = Catalog(locale=lang)
        new = Catalog(locale=lang, project="phananh", domain="phananh")
        for message in template:
            if not message.id:
                continue
            previous = old.get(message.id, context=message.context)
            text = previous.string if previous is not None and previous.string else ""
            key = f"{message.context}\x04{message.id}" if message.context else message.id
            if lang == "vi" and key in extra:
                text = extra[key]
            new.add(message.id, text, flags=[f for f in message.flags if f != "fuzzy"], context=message.context)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, new, width=0, omit_header=False, sort_output=True, ignore_obsolete=True)
    missing = [m.id for m in read_po(_po("vi").open("rb")) if m.id and not m.string]
    for msgid in missing:
        print("missing vi:", msgid)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
