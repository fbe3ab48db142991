"""Key rotation re-seals every encrypted value and file under the newest key; settings refuse to run without keys."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, select

from intake.attachments import read_attachment
from intake.config import Settings
from intake.conversation import Conversation
from intake.crypto import decrypt, encrypt, is_current
from intake.db import get_engine
from intake.dialog.types import Inbound
from intake.errors import ConfigurationError
from intake.keys import encrypted_columns, rotate_all
from intake.models import ChatLink, DialogSession, ReporterIdentity, StaffUser, ZaloToken, utcnow
from tests.intake.security_helpers import Keys, file_full_report, keys  # noqa: F401

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
STRONG = secrets.token_urlsafe(32)


def test_every_binary_column_is_an_encrypted_one_and_all_are_found() -> None:
    """Rotation finds each *_enc column; a binary column named otherwise would escape it, so there is none."""
    assert encrypted_columns() == {
        "staff_users": ["totp_secret_enc"],
        "dialog_sessions": ["draft_enc"],
        "reporter_identities": ["name_enc", "phone_enc"],
        "chat_links": ["handle_enc"],
        "zalo_tokens": ["access_token_enc", "refresh_token_enc"],
        "inbound_events": ["body_enc"],
        "evidence_chunks": ["data_enc"],
    }
    binary = {
        f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns if isinstance(c.type, sa.LargeBinary)
    }
    found = {f"{t}.{c}" for t, cols in encrypted_columns().items() for c in cols}
    assert binary == found and len(found) == 9


def _fill(db: Session) -> dict[str, object]:
    """One of everything encrypted: identity, chat handle, attachment, dialog draft, TOTP secret, Zalo tokens."""
    full = file_full_report(db)
    Conversation(channel="web").handle("web-chat-rotation", Inbound(text="xin chào"))
    staff = db.exec(select(StaffUser)).first()
    if staff is None:
        from intake.actions import create_staff
        from intake.committees import committee_by_code
        from intake.models import StaffRole

        central = committee_by_code(db, "TW")
        assert central is not None
        staff = create_staff(db, username="rot", password="mật-khẩu-dài-12345", role=StaffRole.CHAIR, committee=central)
    staff.totp_secret_enc = encrypt("JBSWY3DPEHPK3PXP")
    db.add(ZaloToken(oa_id="oa-rot", access_token_enc=encrypt("acc-tok"), refresh_token_enc=encrypt("ref-tok"), expires_at=utcnow() + timedelta(hours=1)))
    db.commit()
    return {"case_id": full.filed.case.id, "attachment": full.attachment}


def _read_all(db: Session, case_id: int, attachment: object) -> tuple[str, ...]:
    db.expire_all()
    identity = db.exec(select(ReporterIdentity).where(ReporterIdentity.case_id == case_id)).one()
    link = db.exec(select(ChatLink).where(ChatLink.case_id == case_id)).one()
    dialog = db.exec(select(DialogSession)).one()
    staff = db.exec(select(StaffUser).where(StaffUser.totp_secret_enc.is_not(None))).one()  # type: ignore[union-attr]
    token = db.exec(select(ZaloToken)).one()
    assert link.handle_enc is not None and staff.totp_secret_enc is not None
    photo = read_attachment(attachment)  # type: ignore[arg-type]
    return (
        decrypt(identity.name_enc),
        decrypt(identity.phone_enc),
        decrypt(link.handle_enc),
        decrypt(dialog.draft_enc)[:1],
        decrypt(staff.totp_secret_enc),
        decrypt(token.access_token_enc),
        decrypt(token.refresh_token_enc),
        str(photo[:2]),
    )


def test_rotation_from_a_to_b_then_a_removed(db: Session, keys: Keys) -> None:
    """Written under A, rotated with "B,A", read with B alone: everything decrypts; a second run changes nothing."""
    keys.use(KEY_A)
    made = _fill(db)
    before = _read_all(db, made["case_id"], made["attachment"])  # type: ignore[arg-type]
    assert before[:3] == ("Phạm Thị Hồng Nhung", "0987654321", "tg-chat-551177")

    keys.use(KEY_B, KEY_A)
    first = rotate_all(get_engine(), batch_size=1)
    assert first.failed == []
    assert first.rotated == {
        "staff_users.totp_secret_enc": 1,
        "dialog_sessions.draft_enc": 1,
        "reporter_identities.name_enc": 1,
        "reporter_identities.phone_enc": 1,
        "chat_links.handle_enc": 1,
        "zalo_tokens.access_token_enc": 1,
        "zalo_tokens.refresh_token_enc": 1,
        "inbound_events.body_enc": 0,  # empty: every event was processed
        "evidence_chunks.data_enc": 1,  # the photo: one chunk
    }
    assert first.current == 0

    keys.use(KEY_B)
    assert _read_all(db, made["case_id"], made["attachment"]) == before  # type: ignore[arg-type]

    second = rotate_all(get_engine())
    assert second.values_rotated == 0
    assert second.current == 8 and second.failed == []


def test_without_the_old_key_data_is_unreadable(db: Session, keys: Keys) -> None:
    """The check above can fail: dropping A before rotating leaves the identity unreadable."""
    keys.use(KEY_A)
    made = _fill(db)
    keys.use(KEY_B)
    with pytest.raises(ConfigurationError):
        _read_all(db, made["case_id"], made["attachment"])  # type: ignore[arg-type]


def test_a_value_no_key_opens_is_reported_and_the_rest_still_rotated(db: Session, keys: Keys) -> None:
    """A value sealed with a key that is not configured is listed as failed; nothing else stops."""
    keys.use(KEY_C)
    made = _fill(db)
    keys.use(KEY_A)
    stranger = db.exec(select(ChatLink)).one()
    stranger.handle_enc = encrypt("under-A")
    db.commit()
    keys.use(KEY_B, KEY_A)
    result = rotate_all(get_engine())
    assert result.rotated["chat_links.handle_enc"] == 1
    identity_id = db.exec(select(ReporterIdentity).where(ReporterIdentity.case_id == made["case_id"])).one().id
    assert f"reporter_identities#{identity_id}.name_enc" in result.failed
    assert any(f.startswith("evidence_chunks#") for f in result.failed)
    db.expire_all()
    assert is_current(bytes(db.exec(select(ChatLink)).one().handle_enc or b""))


def test_production_settings_without_keys_are_refused() -> None:
    """Outside development, no secret key or no encryption key stops Settings from being built."""
    with pytest.raises(ValidationError, match="PHANANH_SECRET_KEY"):
        Settings(_env_file=None, env="production", secret_key="dev-only-insecure-secret-change-me", encryption_keys=KEY_A)  # type: ignore[call-arg,arg-type]
    with pytest.raises(ValidationError, match="PHANANH_ENCRYPTION_KEYS"):
        Settings(_env_file=None, env="production", secret_key=STRONG, encryption_keys="", encryption_key_file=None)  # type: ignore[call-arg,arg-type]
    ok = Settings(_env_file=None, env="production", secret_key=STRONG, encryption_keys=KEY_A)  # type: ignore[call-arg,arg-type]
    assert ok.env == "production"


def test_legacy_files_moved_into_the_database_are_retired_and_strangers_kept(db: Session, keys: Keys) -> None:
    """Files left under var/attachments/ by older versions go once their content is in the database (or purged); a file no row knows stays."""
    from intake.attachments import retire_legacy_files, store_attachment
    from intake.config import get_settings
    from intake.crypto import encrypt_bytes
    from tests.intake.security_helpers import photo

    keys.use(KEY_A)
    store = get_settings().var_dir / "attachments"
    store.mkdir(parents=True)
    kept = store_attachment(db, data=photo(), content_type="image/jpeg", kind="photo")
    purged = store_attachment(db, data=photo(), content_type="image/jpeg", kind="photo")
    purged.purged_at = utcnow()
    db.commit()
    for row in (kept, purged):
        (store / row.storage_key).write_bytes(encrypt_bytes(b"the old copy"))
    stray = store / ("0" * 32)
    stray.write_bytes(encrypt_bytes(b"no row knows this file"))
    assert retire_legacy_files() == 2
    assert sorted(p.name for p in store.iterdir()) == [stray.name]
    assert read_attachment(kept)[:2] == b"\xff\xd8"  # read from the database, not the retired file


def test_the_development_key_is_created_once_by_threads_racing_for_it(tmp_path: object) -> None:
    """The first encryptions of a new development server come from several threads at once: all
    get the same complete key (one lost with FileExistsError, or read a half-written file, before)."""
    import threading
    from pathlib import Path

    from intake import crypto

    for attempt in range(8):  # a race: several rounds, each on a new directory
        var_dir = Path(str(tmp_path)) / str(attempt)
        settings = Settings(env="development", var_dir=var_dir, encryption_keys="", database_url="sqlite://")
        start, found, errors = threading.Barrier(12), [], []

        def load(settings: Settings = settings, start: threading.Barrier = start, found: list = found, errors: list = errors) -> None:
            start.wait()
            try:
                found.append(crypto._load_keys(settings))
            except Exception as err:  # noqa: BLE001 - the test reports any failure
                errors.append(type(err).__name__)

        threads = [threading.Thread(target=load) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(found) == 12
        assert all(keys == found[0] and len(keys) == 1 for keys in found)
        assert [p.name for p in (var_dir / "keys").iterdir()] == ["encryption.keys"], "no partial file left"
