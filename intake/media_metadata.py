"""Metadata removal for PDFs, MP4/MOV/3GP/M4A, MP3 and Ogg files, without re-encoding their content.

Each cleaner returns the file to store and whether the metadata it knows of is really gone. A file it
cannot read or clean is returned as it came with ``False``: the evidence is never lost to a cleaner.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

PDF_TYPES = {"application/pdf", "application/x-pdf"}
ISOBMFF_TYPES = {
    "video/mp4",
    "video/quicktime",
    "video/3gpp",
    "video/3gpp2",
    "video/x-m4v",
    "audio/mp4",
    "audio/m4a",
    "audio/x-m4a",
    "audio/3gpp",
    "audio/3gpp2",
}
MP3_TYPES = {"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg-3", "audio/x-mp3"}
OGG_TYPES = {"audio/ogg", "audio/opus", "audio/vorbis", "audio/x-vorbis+ogg", "video/ogg", "application/ogg"}
FLAC_TYPES = {"audio/flac", "audio/x-flac"}

# Box types that a file may start with (QuickTime files written without 'ftyp' start with 'moov', 'mdat'...).
_ISOBMFF_FIRST = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}


def strip_media(data: bytes, content_type: str) -> tuple[bytes, bool] | None:
    """Cleans a PDF, MP4-family, MP3, Ogg or FLAC file, recognised by its first bytes or its type; None for others."""
    content_type = content_type.lower()
    head = data[:1024]
    if head.startswith(b"%PDF-") or (content_type in PDF_TYPES and b"%PDF-" in head):
        return strip_pdf(data)
    if data[4:8] in _ISOBMFF_FIRST and (data[4:8] == b"ftyp" or content_type in ISOBMFF_TYPES):
        return strip_isobmff(data)
    if data.startswith(b"OggS"):
        return strip_ogg(data)
    if data.startswith(b"fLaC") or data[_id3_length(data) :][:4] == b"fLaC":
        return strip_flac(data)
    if data.startswith(b"ID3") or content_type in MP3_TYPES:
        return strip_id3(data)
    return None


def _id3_length(data: bytes) -> int:
    """The length of an ID3v2 tag at the start of data (0 if there is none): FLAC files sometimes carry one."""
    if not data.startswith(b"ID3") or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)


# --- PDF ---------------------------------------------------------------------------------------

# Keys dropped wherever they are: XMP streams (catalog, pages, images, fonts) and applications' private data.
_PDF_DROP_KEYS = ("/Metadata", "/PieceInfo")


def strip_pdf(data: bytes) -> tuple[bytes, bool]:
    """Rewrites a PDF without its /Info dictionary, XMP streams and comment authors; encrypted ones stay as sent."""
    # pypdf raises a wide range of errors on malformed files (its own, and ValueError, KeyError,
    # AssertionError, RecursionError...): any of them means "keep the original".
    from pypdf import PdfReader, PdfWriter

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return data, False
        pages = len(reader.pages)
        _scrub_pdf(reader.trailer["/Root"])
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None  # the /Info dictionary: Author, Creator, Producer, Title, dates
        out = io.BytesIO()
        writer.write(out)
        cleaned = out.getvalue()
        check = PdfReader(io.BytesIO(cleaned), strict=False)
        if check.is_encrypted or len(check.pages) != pages or check.metadata or "/Metadata" in check.root_object:
            log.warning("PDF rewrite did not check out; the file is kept as sent")
            return data, False
    except Exception as err:  # noqa: BLE001 - see above; the evidence is kept whatever went wrong
        log.warning("PDF could not be cleaned (%s); the file is kept as sent", type(err).__name__)
        return data, False
    return cleaned, True


def _scrub_pdf(root: object) -> None:
    """Walks every object reachable from the catalog and drops metadata keys and markup annotations' authors."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    seen: set[tuple[int, int]] = set()
    todo: list[object] = [root]
    while todo:
        obj = todo.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):  # a StreamObject is a DictionaryObject too
            for key in _PDF_DROP_KEYS:
                obj.pop(key, None)
            # /T of a comment, highlight or note is its author's name; a form field's /T is its name and stays.
            if obj.get("/Type") == "/Annot" or ("/Subtype" in obj and "/Rect" in obj):
                if obj.get("/Subtype") != "/Widget" and "/FT" not in obj:
                    obj.pop("/T", None)
            todo.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            todo.extend(obj)


# --- MP4, MOV, 3GP, M4A (ISO base media file format) --------------------------------------------

# Boxes emptied where they are found: user data (©xyz location, ©mak/©mod device, 3GPP loci/auth, the
# iTunes-style ilst tags), Apple's moov/meta (com.apple.quicktime.location.ISO6709, make, model,
# software, creation date), vendor 'uuid' boxes (XMP and makers' XML) and free space (old metadata).
_BLANK = {b"udta", b"meta", b"uuid", b"free", b"skip"}
# Headers whose creation and modification times are set to zero.
_TIMED = {b"mvhd", b"tkhd", b"mdhd"}
# Tracks whose samples are data about the recording rather than picture or sound: timed metadata
# (Apple mebx, GoPro GPMF GPS), Google's camera motion metadata, and text or subtitle tracks (some
# drones and dashcams write GPS there).
_DATA_TRACKS = {b"meta", b"camm", b"text", b"sbtl", b"subt"}


class _Malformed(Exception):
    """The box structure does not add up; the file is kept as sent."""


@dataclass(frozen=True)
class _Box:
    type: bytes
    start: int
    header: int  # size, type and any 64-bit size (the 'uuid' user type counts as payload)
    end: int

    @property
    def payload(self) -> int:
        return self.start + self.header


def _boxes(buf: bytearray, start: int, end: int) -> Iterator[_Box]:
    """The boxes laid end to end between start and end; raises _Malformed when their sizes do not fit."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise _Malformed("truncated box header")
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise _Malformed("truncated 64-bit size")
            (size,) = struct.unpack_from(">Q", buf, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _Malformed("box size out of bounds")
        yield _Box(bytes(kind), pos, header, pos + size)
        pos += size


def _child(buf: bytearray, box: _Box, kind: bytes) -> _Box | None:
    return next((b for b in _boxes(buf, box.payload, box.end) if b.type == kind), None)


def _blank(buf: bytearray, box: _Box) -> None:
    """Turns a box into 'free' and zeroes what it held: every size and offset in the file stays valid."""
    buf[box.start + 4 : box.start + 8] = b"free"
    buf[box.payload : box.end] = bytes(box.end - box.payload)


def _zero_times(buf: bytearray, box: _Box) -> None:
    """Zeroes the creation and modification times of an mvhd, tkhd or mdhd box (version 0 or 1)."""
    width = 8 if buf[box.payload] == 1 else 4
    first = box.payload + 4  # after version and flags
    if first + 2 * width > box.end:
        raise _Malformed("short header box")
    buf[first : first + 2 * width] = bytes(2 * width)


def _handler(buf: bytearray, trak: _Box) -> bytes:
    mdia = _child(buf, trak, b"mdia")
    hdlr = _child(buf, mdia, b"hdlr") if mdia else None
    if hdlr is None or hdlr.end - hdlr.payload < 12:
        return b""
    return bytes(buf[hdlr.payload + 8 : hdlr.payload + 12])


def _sample_ranges(buf: bytearray, trak: _Box) -> list[tuple[int, int]]:
    """Where a track's samples lie in the file, from its sample table (stsz, stsc, stco or co64)."""
    stbl: _Box | None = trak
    for kind in (b"mdia", b"minf", b"stbl"):
        stbl = _child(buf, stbl, kind) if stbl else None
    if stbl is None:
        raise _Malformed("track without a sample table")
    tables = {b.type: b for b in _boxes(buf, stbl.payload, stbl.end)}
    stsz, stsc = tables.get(b"stsz"), tables.get(b"stsc")
    co = tables.get(b"stco") or tables.get(b"co64")
    if stsz is None or stsc is None or co is None:
        raise _Malformed("sample table incomplete")

    def entries(box: _Box, fmt: str, skip: int = 0) -> list[tuple[int, ...]]:
        (count,) = struct.unpack_from(">I", buf, box.payload + 4 + skip)
        first = box.payload + 8 + skip
        if first + count * struct.calcsize(fmt) > box.end:
            raise _Malformed("sample table overruns its box")
        return list(struct.iter_unpack(fmt, buf[first : first + count * struct.calcsize(fmt)]))

    (fixed,) = struct.unpack_from(">I", buf, stsz.payload + 4)
    if fixed:
        (count,) = struct.unpack_from(">I", buf, stsz.payload + 8)
        sizes = [fixed] * count
    else:
        sizes = [s for (s,) in entries(stsz, ">I", skip=4)]
    offsets = [o for (o,) in entries(co, ">Q" if co.type == b"co64" else ">I")]
    runs = entries(stsc, ">III")  # first chunk (1-based), samples per chunk, sample description
    ranges: list[tuple[int, int]] = []
    sample = run = per_chunk = 0
    for index, offset in enumerate(offsets, start=1):
        while run < len(runs) and runs[run][0] <= index:
            per_chunk = runs[run][1]
            run += 1
        length = sum(sizes[sample : sample + per_chunk])
        sample += per_chunk
        ranges.append((offset, offset + length))
    if sample < len(sizes):
        raise _Malformed("samples beyond the chunk table")
    return ranges


def strip_isobmff(data: bytes) -> tuple[bytes, bool]:
    """Empties the metadata boxes of an MP4, MOV, 3GP or M4A in place, leaving picture and sound untouched."""
    buf = bytearray(data)
    complete = True
    try:
        top = list(_boxes(buf, 0, len(buf)))
        moovs = [b for b in top if b.type == b"moov"]
        if len(moovs) != 1:
            raise _Malformed("no single moov box")
        media = [(b.payload, b.end) for b in top if b.type == b"mdat"]
        fragmented = any(b.type == b"moof" for b in top)
        for box in top:
            if box.type in _BLANK:
                _blank(buf, box)
        moov = moovs[0]
        for box in _boxes(buf, moov.payload, moov.end):
            if box.type == b"cmov":
                raise _Malformed("compressed movie header")
            if box.type in _BLANK:
                _blank(buf, box)
            elif box.type in _TIMED:
                _zero_times(buf, box)
            elif box.type == b"trak":
                complete &= _strip_track(buf, box, media, fragmented)
    except (_Malformed, struct.error, IndexError) as err:
        log.warning("MP4/MOV could not be cleaned (%s); the file is kept as sent", err)
        return data, False
    return bytes(buf), complete


def _strip_track(buf: bytearray, trak: _Box, media: list[tuple[int, int]], fragmented: bool) -> bool:
    """Cleans one track; a data track is removed with its samples. False when something had to stay."""
    if _handler(buf, trak) in _DATA_TRACKS:
        if fragmented:
            # Its samples are in the fragments, which this cleaner does not walk.
            _blank(buf, trak)
            return False
        try:
            ranges = _sample_ranges(buf, trak)
            if not all(any(lo <= a and b <= hi for lo, hi in media) for a, b in ranges):
                raise _Malformed("track samples outside the media data")
        except (_Malformed, struct.error, IndexError) as err:
            # Out of the movie, but its samples could not be found to be wiped.
            log.warning("data track samples not wiped (%s)", err)
            _blank(buf, trak)
            return False
        for a, b in ranges:
            buf[a:b] = bytes(b - a)
        _blank(buf, trak)
        return True
    for box in _boxes(buf, trak.payload, trak.end):
        if box.type in _BLANK:
            _blank(buf, box)
        elif box.type in _TIMED:
            _zero_times(buf, box)
        elif box.type == b"mdia":
            mdhd = _child(buf, box, b"mdhd")
            if mdhd:
                _zero_times(buf, mdhd)
    return True


# --- MP3, Ogg, FLAC (mutagen) -------------------------------------------------------------------


def _with_mutagen(data: bytes, what: str, work: Callable[[io.BytesIO], bool]) -> tuple[bytes, bool]:
    """Runs a mutagen edit on an in-memory copy; any failure keeps the file as sent."""
    import mutagen

    buf = io.BytesIO(data)
    try:
        ok = work(buf)
    except (mutagen.MutagenError, ValueError, EOFError, struct.error) as err:
        log.warning("%s could not be cleaned (%s); the file is kept as sent", what, type(err).__name__)
        return data, False
    return (buf.getvalue(), True) if ok else (data, False)


def strip_id3(data: bytes) -> tuple[bytes, bool]:
    """Removes ID3v2, ID3v1 and APEv2 tags (names, titles, pictures, encoder settings) from an MP3."""
    from mutagen import apev2, id3

    def work(buf: io.BytesIO) -> bool:
        for _ in range(4):  # some files carry two ID3v2 tags one after the other
            id3.delete(buf)
            apev2.delete(buf)
            if not buf.getvalue().startswith(b"ID3"):
                break
        out = buf.getvalue()
        return not out.startswith(b"ID3") and out[-128:-125] != b"TAG" and b"APETAGEX" not in out[-4096:]

    return _with_mutagen(data, "MP3", work)


def strip_ogg(data: bytes) -> tuple[bytes, bool]:
    """Clears the user comments of an Ogg Opus, Vorbis, FLAC, Speex or Theora stream; the vendor string stays."""
    import mutagen
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggspeex import OggSpeex
    from mutagen.oggtheora import OggTheora
    from mutagen.oggvorbis import OggVorbis

    def work(buf: io.BytesIO) -> bool:
        audio = mutagen.File(buf, options=[OggOpus, OggVorbis, OggFLAC, OggSpeex, OggTheora])
        if audio is None or audio.tags is None:
            return False
        audio.delete(buf)
        buf.seek(0)
        again = type(audio)(buf)
        return again.tags is not None and len(again.tags) == 0

    return _with_mutagen(data, "Ogg", work)


def strip_flac(data: bytes) -> tuple[bytes, bool]:
    """Removes the Vorbis comments, pictures and any ID3 tag of a FLAC file."""
    from mutagen.flac import FLAC

    def work(buf: io.BytesIO) -> bool:
        audio = FLAC(buf)
        if audio.tags is not None:
            audio.tags.clear()
        audio.clear_pictures()
        buf.seek(0)
        audio.save(buf, deleteid3=True)
        buf.seek(0)
        again = FLAC(buf)
        return not again.tags and not again.pictures and not buf.getvalue().startswith(b"ID3")

    return _with_mutagen(data, "FLAC", work)
