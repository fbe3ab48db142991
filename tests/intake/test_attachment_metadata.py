"""Evidence files lose the metadata that names people, places and devices before they are stored."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile

import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TIT2, TPE1
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.ogg import OggPage
from mutagen.oggopus import OggOpus
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject, TextStringObject
from sqlmodel import Session

from intake.attachments import OFFICE_TYPES, clean, read_attachment, store_attachment
from intake.media_metadata import strip_pdf
from intake.models import Attachment

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


# --- PDFs, videos and audio --------------------------------------------------------------------

NAME = "Nguyễn Văn A"
LOCATION = b"+21.0285+105.8542/"


def _name_forms(text: str) -> list[bytes]:
    """The ways a PDF or a tag may hold a string: UTF-8, UTF-16 (either order) and UTF-16 in hex."""
    utf16 = text.encode("utf-16-be")
    return [text.encode(), utf16, text.encode("utf-16-le"), utf16.hex().encode(), utf16.hex().upper().encode()]


def _stored(db: Session, data: bytes, content_type: str, kind: str) -> tuple[Attachment, bytes]:
    row = store_attachment(db, data=data, content_type=content_type, kind=kind)
    assert row.sha256_original == hashlib.sha256(data).hexdigest()
    return row, read_attachment(row)


def _pdf(*, encrypt: bool = False) -> bytes:
    w = PdfWriter()
    page = w.add_blank_page(200, 200)
    body = DecodedStreamObject()
    body.set_data(b"BT /F1 12 Tf 20 100 Td (XQBODY bien ban) Tj ET")
    page[NameObject("/Contents")] = w._add_object(body)
    page_xmp = DecodedStreamObject()
    page_xmp.set_data(b"<x:xmpmeta><dc:creator>XQPAGEXMP</dc:creator></x:xmpmeta>")
    page[NameObject("/Metadata")] = w._add_object(page_xmp)
    note = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Text"),
            NameObject("/Rect"): ArrayObject([NumberObject(10), NumberObject(10), NumberObject(30), NumberObject(30)]),
            NameObject("/T"): TextStringObject("XQNOTEAUTHOR"),
            NameObject("/Contents"): TextStringObject("XQNOTETEXT"),
        }
    )
    page[NameObject("/Annots")] = ArrayObject([w._add_object(note)])
    w.add_metadata({"/Author": NAME, "/Creator": "XQCREATOR Microsoft Word", "/Producer": "XQPRODUCER", "/Title": "XQTITLE"})
    w.xmp_metadata = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{NAME}</dc:creator><pdf:Producer>XQXMP</pdf:Producer></x:xmpmeta>'.encode()
    if encrypt:
        w.encrypt("mat-khau")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_pdf_loses_its_information_dictionary_xmp_and_comment_authors(db: Session) -> None:
    """Author, Creator, Producer, Title, the XMP streams of the document and its pages and a note's author go; the page, its text and the note stay."""
    data = _pdf()
    assert NAME.encode() in data and b"XQCREATOR" in data and b"XQPAGEXMP" in data
    row, stored = _stored(db, data, "application/pdf", "document")
    assert row.metadata_removed and row.content_type == "application/pdf"
    for marker in (*_name_forms(NAME), b"XQCREATOR", b"XQPRODUCER", b"XQTITLE", b"XQXMP", b"XQPAGEXMP", b"XQNOTEAUTHOR"):
        assert marker not in stored
    pdf = PdfReader(io.BytesIO(stored))
    assert pdf.metadata is None and pdf.xmp_metadata is None and len(pdf.pages) == 1
    page = pdf.pages[0]
    assert "/Metadata" not in page and b"XQBODY bien ban" in page.get_contents().get_data()
    note = page["/Annots"][0].get_object()
    assert note["/Contents"] == "XQNOTETEXT" and "/T" not in note


def test_pdf_sent_as_octet_stream_is_recognised_by_its_first_bytes(db: Session) -> None:
    """A PDF whose type the platform did not tell (Zalo's files) is cleaned all the same."""
    row, stored = _stored(db, _pdf(), "application/octet-stream", "document")
    assert row.metadata_removed and b"XQCREATOR" not in stored


@pytest.mark.parametrize(
    "data",
    [_pdf(encrypt=True), b"%PDF-1.4\n1 0 obj << /Author (XQBROKEN) >>\n%%EOF", b"%PDF-1.4 " + b"x" * 4096],
    ids=["encrypted", "corrupt", "junk"],
)
def test_pdf_that_cannot_be_cleaned_is_kept_as_sent(db: Session, data: bytes) -> None:
    """An encrypted or unreadable PDF is stored byte for byte, marked as not cleaned, without an error."""
    row, stored = _stored(db, data, "application/pdf", "document")
    assert stored == data and not row.metadata_removed


def test_pdf_whose_rewrite_fails_is_kept_as_sent(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """When pypdf reads a PDF but cannot write it back, the evidence is kept whole and not called cleaned."""

    def broken_write(self: PdfWriter, stream: object) -> None:
        raise ValueError("cannot serialise")

    data = _pdf()
    monkeypatch.setattr(PdfWriter, "write", broken_write)
    row, stored = _stored(db, data, "application/pdf", "document")
    assert stored == data and not row.metadata_removed


def test_pdf_whose_rewrite_loses_pages_is_kept_as_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rewrite that reads back with another page count is refused in favour of the original."""
    data = _pdf()
    real_write = PdfWriter.write

    def lossy_write(self: PdfWriter, stream: io.BytesIO) -> object:
        self.add_blank_page(100, 100)
        return real_write(self, stream)

    monkeypatch.setattr(PdfWriter, "write", lossy_write)
    assert strip_pdf(data) == (data, False)


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full(kind: bytes, body: bytes, version: int = 0) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]), body)


def _hdlr(handler: bytes, name: bytes = b"") -> bytes:
    return _full(b"hdlr", b"\0\0\0\0" + handler + bytes(12) + name + b"\0")


def _track(handler: bytes, sample: bytes, offset: int, track_id: int) -> bytes:
    """One track with one chunk of one sample at offset, its creation time set to a recognisable value."""
    stbl = _box(
        b"stbl",
        _full(b"stsd", struct.pack(">I", 0)),
        _full(b"stts", struct.pack(">III", 1, 1, 1000)),
        _full(b"stsc", struct.pack(">IIII", 1, 1, 1, 1)),
        _full(b"stsz", struct.pack(">III", 0, 1, len(sample))),
        _full(b"stco", struct.pack(">II", 1, offset)),
    )
    mdia = _box(
        b"mdia",
        _full(b"mdhd", struct.pack(">IIIIHH", 0xC0FFEE01, 0xC0FFEE02, 1000, 1000, 0x55C4, 0)),
        _hdlr(handler),
        _box(b"minf", stbl),
    )
    tkhd = _full(b"tkhd", struct.pack(">III", 0xC0FFEE03, 0xC0FFEE04, track_id) + bytes(68))
    return _box(b"trak", tkhd, mdia, _box(b"udta", _box(b"name", b"XQTRACKNAME")))


def _mp4() -> bytes:
    """A phone-like MP4: ©xyz, make and model in moov/udta, Apple keys in moov/meta, a GPS timed-metadata track."""
    video_sample = b"XQVIDEOFRAME" * 8
    gps_sample = b"XQGPSSAMPLE " + LOCATION
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")

    def xyz(text: bytes) -> bytes:
        return _box(b"\xa9xyz", struct.pack(">HH", len(text), 0x15C7), text)

    def qt_text(kind: bytes, text: bytes) -> bytes:
        return _box(kind, struct.pack(">HH", len(text), 0x15C7), text)

    udta = _box(b"udta", xyz(LOCATION), qt_text(b"\xa9mak", b"XQMAKE Apple"), qt_text(b"\xa9mod", b"XQMODEL iPhone 15"))
    keys = [b"com.apple.quicktime.location.ISO6709", b"com.apple.quicktime.make", b"com.apple.quicktime.model"]
    values = [LOCATION, b"XQMAKE Apple", b"XQMODEL iPhone 15"]
    meta = _box(
        b"meta",
        _hdlr(b"mdta"),
        _full(b"keys", struct.pack(">I", len(keys)) + b"".join(struct.pack(">I", 8 + len(k)) + b"mdta" + k for k in keys)),
        _box(b"ilst", *(_box(struct.pack(">I", i + 1), _box(b"data", struct.pack(">II", 1, 0), v)) for i, v in enumerate(values))),
    )
    mvhd = _full(b"mvhd", struct.pack(">IIII", 0xC0FFEE05, 0xC0FFEE06, 1000, 1000) + bytes(80) + struct.pack(">I", 3))

    def build(video_at: int, gps_at: int) -> bytes:
        moov = _box(b"moov", mvhd, _track(b"vide", video_sample, video_at, 1), _track(b"meta", gps_sample, gps_at, 2), udta, meta)
        return ftyp + moov

    head = build(0, 0)  # moov before mdat, as phones write it once they finish; offsets follow from its size
    mdat_payload = len(head) + 8
    data = build(mdat_payload, mdat_payload + len(video_sample)) + _box(b"mdat", video_sample, gps_sample)
    return data


def _walk(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """The boxes between start and end, asserting that their sizes tile the range exactly."""
    out, pos = [], start
    while pos < end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        assert size >= 8 and pos + size <= end
        out.append((kind, pos, pos + size))
        pos += size
    assert pos == end
    return out


def test_mp4_loses_location_device_and_gps_track_but_keeps_picture(db: Session) -> None:
    """©xyz, make, model, Apple location keys, track names, times and a GPS track go; boxes still tile and the video sample is intact."""
    data = _mp4()
    assert MP4(io.BytesIO(data)) is not None  # the fixture is a file mutagen reads
    row, stored = _stored(db, data, "video/mp4", "video")
    assert row.metadata_removed and len(stored) == len(data)
    for marker in (LOCATION, b"ISO6709", b"XQMAKE", b"XQMODEL", b"XQTRACKNAME", b"XQGPSSAMPLE", b"\xc0\xff\xee"):
        assert marker not in stored
    assert b"XQVIDEOFRAME" * 8 in stored
    top = _walk(stored, 0, len(stored))
    assert [k for k, _, _ in top] == [b"ftyp", b"moov", b"mdat"]
    _, moov_start, moov_end = top[1]
    inside = [k for k, _, _ in _walk(stored, moov_start + 8, moov_end)]
    assert inside == [b"mvhd", b"trak", b"free", b"free", b"free"]
    # The video track's chunk offset still points at its frame.
    (offset,) = struct.unpack_from(">I", stored, stored.index(b"stco") + 12)
    assert stored[offset : offset + 12] == b"XQVIDEOFRAME"
    MP4(io.BytesIO(stored))  # still an MP4 to mutagen


def test_mp4_with_broken_boxes_is_kept_as_sent(db: Session) -> None:
    """A video whose box sizes do not add up is stored as sent and not called cleaned."""
    data = _mp4()[:-10]
    row, stored = _stored(db, data, "video/mp4", "video")
    assert stored == data and not row.metadata_removed


def _mp3_frames(count: int = 4) -> bytes:
    """MPEG-1 Layer III frames at 128 kbit/s, 44.1 kHz: 417 bytes each, silent."""
    return (b"\xff\xfb\x90\x64" + bytes(413)) * count


def test_mp3_loses_id3v2_id3v1_and_ape_tags(db: Session) -> None:
    """An MP3's artist (ID3v2), its ID3v1 tag and an APE tag go; the audio frames stay byte for byte."""
    frames = _mp3_frames()
    tags = ID3()
    tags.add(TPE1(encoding=3, text=[NAME]))
    tags.add(TIT2(encoding=3, text=["XQTITLE ghi âm"]))
    head = io.BytesIO()
    tags.save(head, v1=0)
    v1 = b"TAG" + b"XQV1TITLE".ljust(30, b"\0") + b"XQV1ARTIST".ljust(30, b"\0") + bytes(30 + 4 + 30) + b"\x0c"
    data = head.getvalue() + frames + v1
    assert NAME.encode() in data
    row, stored = _stored(db, data, "audio/mpeg", "voice")
    assert row.metadata_removed and stored == frames
    for marker in (*_name_forms(NAME), b"XQTITLE", b"XQV1"):
        assert marker not in stored
    assert MP3(io.BytesIO(stored)).tags is None


def _ogg_opus(comments: dict[str, str]) -> bytes:
    """A minimal Ogg Opus stream: OpusHead, OpusTags with the comments, and one silent packet."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    vendor = b"libopus 1.4"
    user = [f"{k}={v}".encode() for k, v in comments.items()]
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(user))
    tags += b"".join(struct.pack("<I", len(c)) + c for c in user)
    pages = []
    for seq, (packet, granule) in enumerate(((head, 0), (tags, 0), (b"\xf8\xff\xfe", 960 + 312))):
        page = OggPage()
        page.serial, page.sequence, page.position, page.packets = 0x1234, seq, granule, [packet]
        page.first, page.last = seq == 0, seq == 2
        pages.append(page.write())
    return b"".join(pages)


def test_ogg_opus_voice_note_loses_its_comments_and_keeps_its_vendor(db: Session) -> None:
    """A Telegram-style voice note keeps its audio and encoder name; the artist and any other comment go."""
    data = _ogg_opus({"ARTIST": NAME, "ENCODER": "XQDEVICE Samsung Voice Recorder"})
    assert OggOpus(io.BytesIO(data)).tags["ARTIST"] == [NAME]
    row, stored = _stored(db, data, "audio/ogg", "voice")
    assert row.metadata_removed
    for marker in (*_name_forms(NAME), b"XQDEVICE"):
        assert marker not in stored
    again = OggOpus(io.BytesIO(stored))
    assert len(again.tags) == 0 and again.tags.vendor == "libopus 1.4"
    assert b"\xf8\xff\xfe" in stored


def test_formats_without_a_cleaner_are_kept_and_not_called_cleaned(db: Session) -> None:
    """WebM, WAV and plain text are stored as sent, with metadata_removed false."""
    for data, content_type in ((b"\x1aE\xdf\xa3" + b"webm", "video/webm"), (b"RIFF\0\0\0\0WAVE", "audio/wav"), (b"bien ban", "text/plain")):
        row, stored = _stored(db, data, content_type, "document")
        assert stored == data and not row.metadata_removed


def test_mp4_data_track_whose_samples_cannot_be_found_is_dropped_but_not_called_cleaned(db: Session) -> None:
    """A GPS track pointing outside the media data leaves the movie; the file is cleaned as far as it goes and marked not cleaned."""
    data = _mp4()
    gps_stco = data.index(b"stco", data.index(b"stco") + 4)
    broken = data[: gps_stco + 12] + struct.pack(">I", len(data) + 100) + data[gps_stco + 16 :]
    row, stored = _stored(db, broken, "video/quicktime", "video")
    assert not row.metadata_removed and len(stored) == len(broken)
    assert b"XQGPSSAMPLE" in stored  # the samples that could not be found, and the reason for "not cleaned"
    assert b"XQMAKE" not in stored and b"\xa9xyz" not in stored and b"ISO6709" not in stored
    _, moov_start, moov_end = _walk(stored, 0, len(stored))[1]
    assert [k for k, _, _ in _walk(stored, moov_start + 8, moov_end)] == [b"mvhd", b"trak", b"free", b"free", b"free"]


def _flac(comment: bytes) -> bytes:
    """A FLAC header (STREAMINFO and a Vorbis comment block) followed by a few bytes of frame."""
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + ((44100 << 44) | (15 << 36)).to_bytes(8, "big") + bytes(16)
    vendor = b"reference libFLAC 1.4.3"
    block = struct.pack("<I", len(vendor)) + vendor + struct.pack("<II", 1, len(comment)) + comment
    return b"fLaC" + b"\0" + len(info).to_bytes(3, "big") + info + b"\x84" + len(block).to_bytes(3, "big") + block + b"\xff\xf8" + bytes(20)


def test_flac_behind_an_id3_tag_loses_both(db: Session) -> None:
    """A FLAC file's Vorbis comments and an ID3 tag in front of it go, whatever type it was sent as."""
    tags = ID3()
    tags.add(TPE1(encoding=3, text=["XQID3ARTIST"]))
    head = io.BytesIO()
    tags.save(head, v1=0)
    data = head.getvalue() + _flac(f"ARTIST={NAME}".encode())
    row, stored = _stored(db, data, "application/octet-stream", "voice")
    assert row.metadata_removed and stored.startswith(b"fLaC")
    for marker in (*_name_forms(NAME), b"XQID3ARTIST"):
        assert marker not in stored
    assert not FLAC(io.BytesIO(stored)).tags
