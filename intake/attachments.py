"""Evidence files: metadata removed where the format allows, encrypted at rest, hashed as received.

The files live in the database (`evidence_chunks`), encrypted a chunk at a time: every server of a
deployment reads what any of them stored, a backup of the database holds them, and a purge or a
deleted draft takes them away in its own transaction. Versions before migration 0008 kept them
under `var/attachments/`; the migration moved them in, and `retire_legacy_files` clears that folder.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import object_session
from sqlmodel import Session

from intake.config import get_settings
from intake.crypto import decrypt_bytes, encrypt_bytes
from intake.errors import InvalidInputError, NotFoundError
from intake.media_metadata import strip_media
from intake.models import Attachment, EvidenceChunk

log = logging.getLogger(__name__)

IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
OFFICE_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
ALLOWED_KINDS = ("photo", "document", "voice", "video")
CHUNK_BYTES = 256 * 1024  # plaintext per chunk: a large file is sealed and read a piece at a time
_CHUNKS = EvidenceChunk.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    content_type: str
    metadata_removed: bool


def strip_image(data: bytes, content_type: str) -> Cleaned:
    """Re-encodes an image from its pixels only: EXIF (GPS, device), XMP and comments are dropped."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            fmt = IMAGE_TYPES.get(content_type) or (img.format if img.format in ("JPEG", "PNG", "WEBP") else "JPEG")
            # Apply the EXIF orientation first, so the photo still stands upright without its EXIF.
            upright = ImageOps.exif_transpose(img)
            # A new image from the pixels alone carries no EXIF, XMP, ICC or text chunks.
            pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
            palette = upright.getpalette()
            if upright.mode == "P" and palette:
                pixels.putpalette(palette)
            if fmt == "JPEG" and pixels.mode not in ("RGB", "L"):
                pixels = pixels.convert("RGB")
            out = io.BytesIO()
            pixels.save(out, format=fmt, **({"quality": 90} if fmt != "PNG" else {}))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InvalidInputError("not a readable image") from err
    mime = {v: k for k, v in IMAGE_TYPES.items()}[fmt]
    return Cleaned(out.getvalue(), mime, True)


# Extended properties that name an organisation or a person (docProps/app.xml keeps the rest: page counts, the application).
_APP_XML_NAMES = re.compile(rb"<(Company|Manager|HyperlinkBase)\s*/>|<(Company|Manager|HyperlinkBase)>.*?</\2>", re.DOTALL)


def strip_office(data: bytes) -> Cleaned:
    """Drops docProps (author, company, dates) from an Office Open XML file."""
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                if item.filename.startswith("docProps/") and item.filename != "docProps/app.xml":
                    continue
                content = src.read(item.filename)
                if item.filename == "docProps/app.xml":
                    content = _APP_XML_NAMES.sub(b"", content)
                dst.writestr(item.filename, content)
    except (zipfile.BadZipFile, KeyError) as err:
        raise InvalidInputError("not a readable document") from err
    return Cleaned(out.getvalue(), "", True)


def clean(data: bytes, content_type: str) -> Cleaned:
    """Removes what metadata the format allows removing; other files are kept as they are."""
    if content_type in IMAGE_TYPES:
        return strip_image(data, content_type)
    if content_type in OFFICE_TYPES:
        office = strip_office(data)
        return Cleaned(office.data, content_type, True)
    # PDFs, MP4/MOV/3GP/M4A, MP3, Ogg and FLAC, told apart by their first bytes as much as by the type sent.
    media = strip_media(data, content_type)
    if media is not None:
        cleaned, removed = media
        return Cleaned(cleaned, content_type, removed)
    return Cleaned(data, content_type, False)


def _legacy_dir() -> Path:
    """Where versions before migration 0008 kept evidence files."""
    return get_settings().var_dir / "attachments"


def store_attachment(
    session: Session,
    *,
    data: bytes,
    content_type: str,
    kind: str,
    dialog_id: int | None = None,
    case_id: int | None = None,
    max_bytes: int | None = None,
) -> Attachment:
    """Cleans, encrypts and saves one file in the caller's transaction; the row keeps its size, type and original hash."""
    # A channel with a larger limit of its own (a self-hosted Telegram Bot API server) passes it.
    limit = max_bytes if max_bytes is not None else get_settings().max_attachment_mb * 2**20
    if kind not in ALLOWED_KINDS:
        raise InvalidInputError("unsupported attachment kind")
    if not data or len(data) > limit:
        raise InvalidInputError("attachment empty or too large")
    original_sha = hashlib.sha256(data).hexdigest()
    cleaned = clean(data, content_type)
    row = Attachment(
        case_id=case_id,
        dialog_id=dialog_id,
        storage_key=secrets.token_hex(16),
        kind=kind,
        content_type=cleaned.content_type or content_type or "application/octet-stream",
        size=len(cleaned.data),
        sha256_original=original_sha,
        metadata_removed=cleaned.metadata_removed,
    )
    session.add(row)
    session.flush()
    pieces = [cleaned.data[i : i + CHUNK_BYTES] for i in range(0, len(cleaned.data), CHUNK_BYTES)] or [b""]
    session.execute(
        _CHUNKS.insert(), [{"attachment_id": row.id, "seq": seq, "data_enc": encrypt_bytes(piece)} for seq, piece in enumerate(pieces)]
    )
    log.info("attachment %s stored (%s, %s bytes)", row.id, kind, row.size)
    return row


def read_attachment(row: Attachment, session: Session | None = None) -> bytes:
    """The cleaned file, decrypted: read in the row's own session when it has one (its writes not committed yet included)."""
    query = sa.select(_CHUNKS.c.data_enc).where(_CHUNKS.c.attachment_id == row.id).order_by(_CHUNKS.c.seq)
    owner = session or object_session(row)
    if owner is not None:
        sealed = [bytes(v) for v in owner.execute(query).scalars()]
    else:
        from intake.db import get_engine

        with get_engine().connect() as conn:
            sealed = [bytes(v) for v in conn.execute(query).scalars()]
    if not sealed:
        raise NotFoundError("the attachment's content is not in the evidence store")
    return b"".join(decrypt_bytes(piece) for piece in sealed)


def delete_content(session: Session, row: Attachment) -> None:
    """Deletes the file of an attachment whose row stays (a purge), in the caller's transaction."""
    session.execute(_CHUNKS.delete().where(_CHUNKS.c.attachment_id == row.id))


def retire_legacy_files() -> int:
    """Deletes files left under var/attachments/ by versions before 0008 whose content is in the database now; returns how many.

    A file with no attachment row, or whose row has no content in the database, is left alone: a
    server pointed at the wrong database must never delete the evidence it holds.
    """
    from intake.db import get_engine

    store = _legacy_dir()
    if not store.is_dir():
        return 0
    names = sorted(p.name for p in store.iterdir() if p.is_file())
    table = Attachment.__table__  # type: ignore[attr-defined]
    removed = 0
    for start in range(0, len(names), 500):
        batch = names[start : start + 500]
        with get_engine().connect() as conn:
            moved = conn.execute(
                sa.select(table.c.storage_key)
                .where(table.c.storage_key.in_(batch))
                .where(sa.or_(table.c.purged_at.is_not(None), sa.exists().where(_CHUNKS.c.attachment_id == table.c.id)))
            ).scalars().all()
        for name in moved:
            (store / name).unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("evidence store: %s files moved into the database were deleted from %s", removed, store)
    return removed
