"""Shared by the key, retention and privacy tests: switching encryption keys, filing a report with everything."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import Session

from intake.actions import Filed, submit_report
from intake.attachments import store_attachment
from intake.config import get_settings
from intake.crypto import reset_caches
from intake.dialog.types import Draft
from intake.models import Attachment


class Keys:
    """Sets PHANANH_ENCRYPTION_KEYS (newest first) for the rest of a test, as a restart with new settings would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def use(self, *keys: str) -> None:
        self.monkeypatch.setenv("PHANANH_ENCRYPTION_KEYS", ",".join(keys))
        get_settings.cache_clear()
        reset_caches()


@pytest.fixture()
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Keys]:
    """Own keys and an own attachment store (files of other tests are under the development key)."""
    monkeypatch.setenv("PHANANH_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    reset_caches()
    yield Keys(monkeypatch)
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_caches()


def sealed(att: Attachment | int) -> bytes:
    """What the evidence store keeps of an attachment (or attachment id), as stored: encrypted chunks in order; b"" when nothing."""
    from intake.db import get_engine
    from intake.models import EvidenceChunk

    chunks = EvidenceChunk.__table__  # type: ignore[attr-defined]
    with get_engine().connect() as conn:
        attachment_id = att if isinstance(att, int) else att.id
        rows = conn.execute(sa.select(chunks.c.data_enc).where(chunks.c.attachment_id == attachment_id).order_by(chunks.c.seq)).scalars()
        return b"".join(bytes(r) for r in rows)


def photo() -> bytes:
    """A small JPEG."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (30, 90, 200)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class FiledWithAll:
    filed: Filed
    attachment: Attachment


def file_full_report(
    db: Session,
    *,
    mode: str = "confidential",
    name: str = "Phạm Thị Hồng Nhung",
    phone: str = "0987654321",
    handle: str = "tg-chat-551177",
    channel: str = "telegram",
) -> FiledWithAll:
    """A report with an identity, a chat handle opted in to updates, and a photo; committed."""
    att = store_attachment(db, data=photo(), content_type="image/jpeg", kind="photo")
    draft = Draft(
        mode=mode,
        description_parts=["Chủ tịch UBND phường nhận tiền của doanh nghiệp để cấp phép xây dựng"],
        description_done=True,
        category=7,
        accused_position="chủ tịch UBND phường",
        accused_agency="UBND phường",
        place_text="phường Bến Thành",
        province_code="79",
        commune_code="26743",
        setting="workplace",
        reporter_name=name if mode != "anonymous" else None,
        reporter_phone=phone if mode != "anonymous" else None,
        notify=True,
        attachments=[att.id],  # type: ignore[list-item]
    )
    filed = submit_report(db, draft=draft, channel=channel, chat_handle=handle)
    db.commit()
    return FiledWithAll(filed, att)
