"""Staff's category corrections as training material: (report text, category) pairs, identity removed.

The text that leaves here is the case's description without the reporter's name, phone number and
chat handles, nor the accused's name, nor anything shaped like a phone number, an e-mail or web
address or an @handle (`intake.redaction`). A case whose identity cannot be decrypted is left out:
what cannot be read cannot be removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlmodel import Session, select

from intake.crypto import decrypt
from intake.errors import ConfigurationError
from intake.models import Case, CategoryCorrection, ChatLink, ReporterIdentity
from intake.redaction import redact

log = logging.getLogger(__name__)


def _identity_values(session: Session, case: Case) -> list[str]:
    """Everything that names the reporter or the accused in a case: the values to remove from its text."""
    values = [case.accused_name]
    identity = session.exec(select(ReporterIdentity).where(ReporterIdentity.case_id == case.id)).first()
    if identity is not None:
        values += [decrypt(identity.name_enc), decrypt(identity.phone_enc)]
    for link in session.exec(select(ChatLink).where(ChatLink.case_id == case.id)):
        if link.handle_enc is not None:
            values.append(decrypt(link.handle_enc))
    return [v for v in values if v and v.strip()]


def iter_corrections(session: Session) -> Iterator[tuple[str, int]]:
    """The latest correction of each case, with the case's text; older corrections are superseded."""
    latest: dict[int, int] = {}
    for correction in session.exec(select(CategoryCorrection).order_by(CategoryCorrection.id)):  # type: ignore[arg-type]
        latest[correction.case_id] = correction.new_category
    if not latest:
        return
    for case in session.exec(select(Case).where(Case.id.in_(list(latest))).order_by(Case.id)):  # type: ignore[union-attr,arg-type]
        if not case.description.strip():
            continue
        try:
            identity = _identity_values(session, case)
        except ConfigurationError:
            log.warning("correction of case %s left out: its identity cannot be decrypted to remove it", case.id)
            continue
        text = redact(case.description, identity)
        if text.strip():
            yield text, latest[case.id]  # type: ignore[index]
