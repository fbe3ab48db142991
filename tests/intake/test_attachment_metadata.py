"""Office documents lose the properties that name people and organisations before they are stored."""

from __future__ import annotations

import io
import zipfile

from intake.attachments import OFFICE_TYPES, clean

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
APP_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Template>Normal.dotm</Template><Pages>2</Pages><Company>UBND xã XQCOMPANY</Company>"
    "<Manager>Ông Quản Lý XQMANAGER</Manager><HyperlinkBase>\\\\máy-chủ\\XQBASE</HyperlinkBase><Application>Microsoft Office Word</Application></Properties>"
)


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("docProps/core.xml", "<cp:coreProperties><dc:creator>Phạm Văn XQAUTHOR</dc:creator></cp:coreProperties>")
        z.writestr("docProps/custom.xml", "<Properties><property name='Người ký'>XQCUSTOM</property></Properties>")
        z.writestr("docProps/app.xml", APP_XML)
        z.writestr("word/document.xml", "<w:document>Biên bản cuộc họp</w:document>")
    return buf.getvalue()


def test_office_properties_naming_people_and_organisations_are_removed() -> None:
    """Author (core), custom properties, and Company, Manager and HyperlinkBase (app) go; the body and page count stay."""
    assert DOCX in OFFICE_TYPES
    cleaned = clean(_docx(), DOCX)
    assert cleaned.metadata_removed and cleaned.content_type == DOCX
    out = zipfile.ZipFile(io.BytesIO(cleaned.data))
    assert "docProps/core.xml" not in out.namelist() and "docProps/custom.xml" not in out.namelist()
    everything = b"".join(out.read(name) for name in out.namelist())
    for marker in (b"XQAUTHOR", b"XQCUSTOM", b"XQCOMPANY", b"XQMANAGER", b"XQBASE"):
        assert marker not in everything
    app = out.read("docProps/app.xml").decode()
    assert "<Pages>2</Pages>" in app and "<Application>Microsoft Office Word</Application>" in app
    assert "Biên bản cuộc họp" in out.read("word/document.xml").decode()
