"""Small PDFs written by hand for tests and benchmarks: one page per list of lines, in Helvetica,
with a real text layer (what a word processor's "save as PDF" gives), and optionally encrypted
or image-only, through pypdf."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence

from pypdf import PdfReader, PdfWriter

LINE_HEIGHT = 14


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """A PDF whose page n shows pages[n]'s lines (Latin-1 text)."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")  # 3
    kids = []
    for lines in pages:
        commands = ["BT", "/F1 11 Tf", f"{LINE_HEIGHT} TL", "50 780 Td"]
        commands += [f"({_escape(line)}) Tj T*" for line in lines]
        commands.append("ET")
        stream = "\n".join(commands).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    return serialized(objects)


def encrypted_pdf(pages: Sequence[Sequence[str]], password: str = "secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_only_pdf() -> bytes:
    """One page that draws a small grey image and has no text: a scan without OCR."""
    image = b"\x80" * (8 * 8)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
    ]
    draw = b"q 200 0 0 200 100 500 cm /Im1 Do Q"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(draw), draw))
    objects.append(
        b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream" % (len(image), image)
    )
    return serialized(objects)


def serialized(objects: Sequence[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1; the first is the catalog), with its xref."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref))  # fmt: skip
    return out.getvalue()


# ----- hostile PDFs: small files that are costly to read -----


def _flate(data: bytes) -> bytes:
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (
        len(compressed := zlib.compress(data, 9)), compressed)  # fmt: skip


def _pages_of_streams(contents: Sequence[Sequence[bytes]]) -> bytes:
    """A PDF whose page n draws the content streams contents[n] (compressed), in Helvetica."""
    flated: dict[bytes, bytes] = {}  # each distinct stream compressed once
    objects: list[bytes] = [b"", b""]
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")  # 3
    kids = []
    for streams in contents:
        numbers = []
        for data in streams:
            if data not in flated:
                flated[data] = _flate(data)
            objects.append(flated[data])
            numbers.append(len(objects))
        refs = b" ".join(b"%d 0 R" % n for n in numbers)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents [%s] >>" % refs
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids), len(kids))  # fmt: skip
    return serialized(objects)


def operator_flood_pdf(megabytes: float = 4, pages: int = 1) -> bytes:
    """Pages whose text layer is `megabytes` (each page) of tiny text operators: a file of a
    few KB that takes pypdf's text extraction a long time."""
    operator = b"(a) Tj 1 0 Td "
    body = b"BT /F1 11 Tf 50 780 Td " + operator * int(megabytes * 1024**2 / len(operator)) + b"ET"
    return _pages_of_streams([[body] for _ in range(pages)])


def stream_bomb_pdf(streams: int = 32, megabytes_each: int = 70) -> bytes:
    """`streams` pages, each one compressed content stream of `megabytes_each` MB of spaces once
    decompressed: each under pypdf's per-stream cap (75 MB), together far over it."""
    return _pages_of_streams([[b" " * (megabytes_each * 1024**2)]] * streams)
