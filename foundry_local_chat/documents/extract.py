"""The text of an uploaded file: plain text, Markdown, HTML, or a PDF's text layer (with pypdf),
as sections that keep where each part came from (a PDF's page, a heading).

`extract` returns the text or raises DocumentRefused saying what is wrong with the file (the
chat view says it in the chat's language). Nothing here knows about chats or databases.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import PurePath

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from foundry_local_chat.errors import FoundryLocalChatError, one_line

log = logging.getLogger(__name__)


class Kind(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"
    PDF = "pdf"


KINDS_BY_SUFFIX = {
    ".txt": Kind.TEXT, ".text": Kind.TEXT,
    ".md": Kind.MARKDOWN, ".markdown": Kind.MARKDOWN,
    ".html": Kind.HTML, ".htm": Kind.HTML,
    ".pdf": Kind.PDF,
}  # fmt: skip
SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".html")  # as the welcome screen names them
MAX_BAD_CHARACTERS = 0.01  # a "text" file with more undecodable bytes than this is not text


class Problem(StrEnum):
    UNSUPPORTED = "unsupported"  # a kind of file this app does not read
    NOT_TEXT = "not_text"  # named as text, but binary
    UNREADABLE = "unreadable"  # damaged, or not what its name says (detail: the parser's words)
    ENCRYPTED = "encrypted"  # a PDF that needs a password
    EMPTY = "empty"  # no text at all
    IMAGE_ONLY = "image_only"  # a PDF of scanned pages: images, no text layer
    TOO_LARGE = "too_large"  # over the size limit (detail: the limit in MB)
    TOO_MANY = "too_many"  # over the per-message count limit (detail: the limit)
    NOT_STORED = "not_stored"  # read, but the database refused it (detail: its words)
    # Refused by the limits of reading (documents/reader.py); detail: the limit.
    TOO_SLOW = "too_slow"  # over the time limit (seconds), wall clock or CPU
    TOO_MUCH_MEMORY = "too_much_memory"  # over the reading process's memory (MB)
    TOO_MUCH_DATA = "too_much_data"  # decompresses (or its text runs) to over the cap (MB)
    BUSY_USER = "busy_user"  # this user already has that many files being read
    BUSY = "busy"  # all the places to read files stayed taken


class DocumentRefused(FoundryLocalChatError, ValueError):
    """The file cannot be used; `problem` says why, `detail` adds the specifics."""

    def __init__(self, name: str, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{name}: {problem.value}" + (f" ({detail})" if detail else ""))
        self.name = name
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Section:
    """A part of a document: a PDF page (page set), or the text under a heading (heading set)."""

    text: str
    page: int | None = None  # 1-based
    heading: str | None = None


@dataclass(frozen=True)
class ExtractedDocument:
    name: str
    kind: Kind
    sections: tuple[Section, ...]
    pages: int | None = None  # a PDF's page count
    # Its length when its sections are not kept (documents/reader.py returns the passages only).
    text_chars: int | None = None

    @property
    def chars(self) -> int:
        if self.text_chars is not None:
            return self.text_chars
        return sum(len(section.text) for section in self.sections)


def kind_of(name: str) -> Kind | None:
    return KINDS_BY_SUFFIX.get(PurePath(name).suffix.lower())


def extract(name: str, data: bytes) -> ExtractedDocument:
    """The document's text, by the kind its name says. Raises DocumentRefused."""
    kind = kind_of(name)
    if kind is None:
        raise DocumentRefused(name, Problem.UNSUPPORTED, PurePath(name).suffix.lower())
    if kind == Kind.PDF:
        document = _pdf(name, data)
    else:
        text = _decode(name, data)
        if kind == Kind.HTML:
            sections = _html_sections(text)
        elif kind == Kind.MARKDOWN:
            sections = _markdown_sections(text)
        else:
            sections = [Section(text)]
        document = ExtractedDocument(name, kind, _with_text(sections))
    if not document.sections:
        raise DocumentRefused(name, Problem.EMPTY)
    return document


def _with_text(sections: tuple[Section, ...] | list[Section]) -> tuple[Section, ...]:
    """The sections that have words, their whitespace tidied (runs of blank lines kept as one)."""
    tidy = []
    for section in sections:
        lines = [" ".join(line.split()) for line in section.text.splitlines()]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        if text:
            tidy.append(Section(text, section.page, section.heading))
    return tuple(tidy)


def _decode(name: str, data: bytes) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentRefused(name, Problem.NOT_TEXT)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        text = data.decode("utf-8-sig", errors="replace")
    if text.count("\N{REPLACEMENT CHARACTER}") > MAX_BAD_CHARACTERS * max(len(text), 1):
        raise DocumentRefused(name, Problem.NOT_TEXT)
    # Control characters other than line breaks and tabs carry no text (and some break storage).
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]", " ", text)


# ----- Markdown: a section per heading -----

HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _markdown_sections(text: str) -> list[Section]:
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        match = None if fence else HEADING.match(line)
        if match:
            sections.append(Section("\n".join(lines), heading=heading))
            heading, lines = match[2].strip() or None, [line]
        else:
            lines.append(line)
    sections.append(Section("\n".join(lines), heading=heading))
    return sections


# ----- HTML: visible text, a section per heading, a paragraph per block -----

BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "table", "tr", "section", "article", "header", "footer",
    "blockquote", "pre", "dd", "dt", "hr", "main", "nav", "aside", "figure", "figcaption",
}  # fmt: skip
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
INVISIBLE = {"script", "style", "template", "noscript", "head", "title", "svg"}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self._heading: str | None = None
        self._parts: list[str] = []
        self._hidden = 0
        self._in_heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in INVISIBLE:
            self._hidden += 1
        elif tag in HEADINGS:
            self._close_section()
            self._in_heading = []
        elif tag in BLOCKS:
            self._parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in HEADINGS and self._in_heading is not None:
            title = " ".join("".join(self._in_heading).split())
            self._heading = title or None
            self._parts.append(f"{title}\n\n")
            self._in_heading = None
        elif tag in BLOCKS:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in_heading is not None:
            self._in_heading.append(data)
        else:
            self._parts.append(data)

    def _close_section(self) -> None:
        self.sections.append(Section("".join(self._parts), heading=self._heading))
        self._parts = []

    def finish(self) -> list[Section]:
        self.close()
        self._close_section()
        return self.sections


def _html_sections(text: str) -> list[Section]:
    parser = _HtmlText()
    parser.feed(text)
    return parser.finish()


# ----- PDF: the text layer, page by page -----


def _pdf(name: str, data: bytes) -> ExtractedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _open_encrypted(name, reader)
        pages = [page.extract_text() or "" for page in reader.pages]
        images = not any(text.strip() for text in pages) and _has_images(reader)
    except DocumentRefused:
        raise
    except FileNotDecryptedError as error:
        raise DocumentRefused(name, Problem.ENCRYPTED) from error
    except Exception as error:  # pypdf raises many kinds (and plain ones) on damaged files
        log.info("cannot read the PDF %s: %s", name, error)
        raise DocumentRefused(name, Problem.UNREADABLE, one_line(error)) from error
    sections = _with_text([Section(text, page=number) for number, text in enumerate(pages, 1)])
    if not sections:
        raise DocumentRefused(name, Problem.IMAGE_ONLY if images else Problem.EMPTY)
    return ExtractedDocument(name, Kind.PDF, sections, pages=len(pages))


def _open_encrypted(name: str, reader: PdfReader) -> None:
    """A PDF encrypted with an empty user password (only its owner's rights are protected)
    opens; one that needs a password is refused."""
    try:
        opened = reader.decrypt("")
    except DependencyError as error:  # AES without the cryptography package
        raise DocumentRefused(name, Problem.ENCRYPTED, one_line(error)) from error
    if not opened:
        raise DocumentRefused(name, Problem.ENCRYPTED)


def _has_images(reader: PdfReader) -> bool:
    """Whether a page draws an image (a scan), read from its resources without decoding it."""
    for page in reader.pages:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        if xobjects and any(
            item.get_object().get("/Subtype") == "/Image" for item in xobjects.get_object().values()
        ):
            return True
    return False
