"""A small PDF file writer: numbered objects, streams, the cross-reference table, and a
signature placeholder filled after the file is laid out (one revision, signed whole).

It writes what the certificate assembler hands it, nothing more: the page furniture
comes from fpdf2 (pdfgen.furniture), the variable text is drawn by pdfgen.certificate.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

#: Room for the CMS signature in /Contents (bytes; written as hex, twice as many digits).
SIGNATURE_ROOM = 8192
_BYTE_RANGE_PLACEHOLDER = b"/ByteRange [0 0000000000 0000000000 0000000000]"


def pdf_string(text: str) -> str:
    """A PDF text string (UTF-16BE with BOM, hex): safe for any character."""
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


class PdfWriter:
    def __init__(self, first: int = 1) -> None:
        self._objects: dict[int, bytes] = {}
        self._next = first

    def reserve(self) -> int:
        number = self._next
        self._next += 1
        return number

    def put(self, number: int, body: bytes | str) -> int:
        self._objects[number] = body.encode("latin-1") if isinstance(body, str) else body
        return number

    def add(self, body: bytes | str) -> int:
        return self.put(self.reserve(), body)

    def stream(self, data: bytes, entries: str = "", *, compress: bool = True, number: int | None = None,
               level: int = 6) -> int:
        if compress:
            data = zlib.compress(data, level)
            entries += " /Filter /FlateDecode"
        body = f"<< /Length {len(data)}{entries} >>\nstream\n".encode("latin-1") + data + b"\nendstream"
        return self.put(self.reserve() if number is None else number, body)

    def raw(self, number: int, body: bytes) -> None:
        """An object serialised elsewhere (the cached furniture)."""
        self._objects[number] = body

    def signature_placeholder(self) -> bytes:
        """The value dictionary of a signature: filled in by ``output(sign=…)``."""
        return (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
                + _BYTE_RANGE_PLACEHOLDER + b" /Contents <" + b"0" * (2 * SIGNATURE_ROOM) + b">")

    def output(self, root: int, info: int, file_id: bytes,
               sign: Callable[[bytes], bytes] | None = None) -> bytes:
        """The file. With ``sign``: the signature dictionary's /ByteRange is set to cover
        every byte but the /Contents hex, and ``sign`` gets those bytes and returns the
        DER of the CMS signature, written into /Contents."""
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        size = max(self._objects) + 1
        offsets = [0] * size
        for number in sorted(self._objects):
            offsets[number] = len(out)
            out += f"{number} 0 obj\n".encode("latin-1") + self._objects[number] + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {size}\n".encode("latin-1")
        out += b"0000000000 65535 f \n"
        for number in range(1, size):
            if number in self._objects:
                out += f"{offsets[number]:010d} 00000 n \n".encode("latin-1")
            else:
                raise ValueError(f"object {number} was reserved and never written")
        ident = file_id.hex().upper()
        out += (f"trailer\n<< /Size {size} /Root {root} 0 R /Info {info} 0 R /ID [<{ident}> <{ident}>] >>\n"
                f"startxref\n{xref}\n%%EOF\n").encode("latin-1")
        if sign is None:
            return bytes(out)
        return _sign_in_place(out, sign)


def _sign_in_place(out: bytearray, sign: Callable[[bytes], bytes]) -> bytes:
    at = out.find(_BYTE_RANGE_PLACEHOLDER)
    contents = out.find(b"/Contents <", at) + len(b"/Contents ")
    if at < 0 or contents < len(b"/Contents "):
        raise ValueError("the file has no signature placeholder")
    end = contents + 2 + 2 * SIGNATURE_ROOM  # after the closing >
    ranges = f"/ByteRange [0 {contents} {end} {len(out) - end}]".encode("latin-1")
    out[at:at + len(_BYTE_RANGE_PLACEHOLDER)] = ranges.ljust(len(_BYTE_RANGE_PLACEHOLDER))
    der = sign(bytes(out[:contents]) + bytes(out[end:]))
    if len(der) > SIGNATURE_ROOM:
        raise ValueError("the signature does not fit its placeholder")
    out[contents + 1:contents + 1 + 2 * len(der)] = der.hex().upper().encode("latin-1")
    return bytes(out)
