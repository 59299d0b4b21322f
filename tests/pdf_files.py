"""Small PDFs written by hand for the tests: pages of text lines at given heights, an image-only
page (a scan), a password-protected one. Only what a PDF reader needs: objects, a cross-reference
table and a trailer."""

from __future__ import annotations

import zlib

Line = tuple[float, str]  # (height on the page in points, text); a larger gap between lines ends a paragraph


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")  # WinAnsiEncoding, the standard fonts' own
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _text_stream(lines: list[Line]) -> bytes:
    ops = [b"BT /F1 11 Tf 72 %.1f Td (%s) Tj ET" % (y, _escape(text)) for y, text in lines]
    return b"\n".join(ops)


def _image_stream() -> bytes:
    """A page that only paints a small grey image, as a scanner's PDF does."""
    return b"q 200 0 0 100 72 600 cm /Im1 Do Q"


def build_pdf(pages: list[list[Line]] | None = None, *, title: str | None = None, created: str | None = None,
              image_only: bool = False, encrypted: bool = False) -> bytes:
    """A PDF with one page per list of lines (in Helvetica), or one image-only page."""
    pages = pages if pages is not None else [[]]
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the pages' numbers are known
    pages_ref = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    image = None
    if image_only:
        pixels = zlib.compress(bytes([128]) * (20 * 10))
        image = add(b"<< /Type /XObject /Subtype /Image /Width 20 /Height 10 /ColorSpace /DeviceGray "
                    b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
                    % (len(pixels), pixels))
    kids = []
    for lines in pages:
        content = _image_stream() if image_only else _text_stream(lines)
        stream = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        resources = b"<< /Font << /F1 %d 0 R >> %s>>" % (font, b"/XObject << /Im1 %d 0 R >> " % image if image else b"")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources %s /Contents %d 0 R >>"
                        % (pages_ref, resources, stream)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_ref
    objects[pages_ref - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    info_entries = b""
    if title:
        info_entries += b"/Title (%s) " % _escape(title)
    if created:
        info_entries += b"/CreationDate (%s) " % created.encode("ascii")
    info = add(b"<< %s>>" % info_entries)
    encrypt = None
    if encrypted:
        # The standard security handler with a user password: the O and U entries below match no
        # password, so a reader can only say the file is protected.
        owner, user = b"\x11" * 32, b"\x22" * 32
        encrypt = add(b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O <%s> /U <%s> >>"
                      % (owner.hex().encode(), user.hex().encode()))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"/Size %d /Root %d 0 R /Info %d 0 R" % (len(objects) + 1, catalog, info)
    if encrypt:
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (encrypt, b"ab" * 16, b"ab" * 16)
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def paragraph_lines(
    paragraphs: list[list[str]], *, top: float = 720, leading: float = 14, gap: float = 26
) -> list[Line]:
    """Lines for paragraphs given as lists of their lines: `leading` apart within a paragraph,
    `gap` apart between paragraphs."""
    lines: list[Line] = []
    y = top
    for paragraph in paragraphs:
        for line in paragraph:
            lines.append((y, line))
            y -= leading
        y -= gap - leading
    return lines
