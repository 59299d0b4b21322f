"""A PDF (bytes) → its article text and metadata, with pdfminer.six.

pdfminer's layout analysis groups a page's lines into text boxes, which for an article are its
paragraphs: each box becomes one paragraph, its lines joined by a space (a line ending in a
hyphen is joined without one, and keeps the hyphen: no word is changed). Page numbers and lines
repeated at the same place on most pages (running headers and footers) are left out."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections import Counter

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LAParams, LTPage, LTTextBox
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from pdfminer.psexceptions import PSException
from pdfminer.utils import decode_text

from bot.ingest.extracted import Extracted, paragraphs_to_text, without_title_line
from bot.ingest.sources import SourceProblem

logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its warnings are about the file's syntax, not ours

MAX_TITLE = 150
_CID = re.compile(r"\(cid:\d+\)")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$", re.I)
# Titles that are a program's, not the document's.
_GENERATED_TITLE = re.compile(r"^(?:untitled|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|odt|pdf|indd))$", re.I)


def extract_pdf(data: bytes) -> Extracted:
    """The article in a PDF; raises SourceProblem for an encrypted, image-only or unreadable one."""
    try:
        parser = PDFParser(io.BytesIO(data))
        document = PDFDocument(parser, password="")  # an empty user password opens most "protected" PDFs
        info = _info(document)
        pages = _page_boxes(document)
    except PDFPasswordIncorrect:
        raise SourceProblem("the PDF is encrypted with a password; open it with the password and save an "
                        "unencrypted copy (or print it to PDF), then add that") from None
    except PDFEncryptionError as error:
        raise SourceProblem(f"the PDF is encrypted in a way that cannot be read ({error}); save an unencrypted "
                        "copy and add that") from None
    except (PSException, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as error:
        raise SourceProblem(f"is not a readable PDF ({type(error).__name__}: {str(error)[:80] or 'damaged'}); it "
                            "may be damaged or cut short, so download it again") from None
    paragraphs = _without_furniture(pages)
    text = " ".join(paragraphs)
    if not text.strip():
        raise SourceProblem("the PDF has no text, only images (a scan?); run it through OCR (for example "
                        "ocrmypdf) and add the result")
    if len("".join(_CID.findall(text))) > len(text) / 5:
        raise SourceProblem("the PDF's fonts do not say which letters they draw, so its text cannot be read; run it "
                        "through OCR (for example ocrmypdf) and add the result")
    title = info.get("Title")
    if title and _GENERATED_TITLE.match(title):
        title = None
    if not title and paragraphs and len(paragraphs[0]) <= MAX_TITLE and paragraphs[0][-1] not in ".!?:;,":
        title = paragraphs[0]
    published = _pdf_date(info.get("CreationDate"))
    return Extracted(
        title=title,
        published=published,
        text=paragraphs_to_text(without_title_line(paragraphs, title)),
        note="date taken from the PDF's creation date" if published else None,
    )


def _info(document: PDFDocument) -> dict[str, str]:
    info: dict[str, str] = {}
    for entry in document.info:
        for key, value in entry.items():
            value = resolve1(value)
            if isinstance(value, bytes):
                value = decode_text(value)
            if isinstance(value, str) and value.strip():
                info[key] = " ".join(value.split())
    return info


def _page_boxes(document: PDFDocument) -> list[list[str]]:
    """Each page's text boxes in reading order, each one paragraph of text."""
    manager = PDFResourceManager(caching=True)
    device = PDFPageAggregator(manager, laparams=LAParams())
    interpreter = PDFPageInterpreter(manager, device)
    pages = []
    for page in PDFPage.create_pages(document):
        interpreter.process_page(page)
        layout: LTPage = device.get_result()
        boxes = [_paragraph(element.get_text()) for element in layout if isinstance(element, LTTextBox)]
        pages.append([box for box in boxes if box])
    return pages


def _paragraph(box_text: str) -> str:
    lines = [" ".join(line.split()) for line in box_text.splitlines()]
    text = ""
    for line in filter(None, lines):
        if not text:
            text = line
        elif text.endswith("-") and not text.endswith(" -"):
            text += line  # a word split across lines, or a compound: keep the hyphen, add no space
        else:
            text += " " + line
    return text


def _without_furniture(pages: list[list[str]]) -> list[str]:
    """All pages' paragraphs, without page numbers and lines repeated on most pages."""
    repeated: set[str] = set()
    if len(pages) >= 3:
        counts = Counter(key for page in pages for key in {re.sub(r"\d+", "#", box) for box in page})
        repeated = {key for key, count in counts.items() if count >= 0.6 * len(pages)}
    return [box for page in pages for box in page
            if not _PAGE_NUMBER.match(box) and re.sub(r"\d+", "#", box) not in repeated]


def _pdf_date(value: str | None) -> str | None:
    """'D:20230418093000+04'00'' -> '2023-04-18'."""
    match = re.match(r"^(?:D:)?(\d{4})(\d{2})(\d{2})", value or "")
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
    except ValueError:
        return None
