"""The bundled Mincho as raw glyphs, and a fast subsetter for the variable text.

fontTools' subsetter takes ~8 ms a document (it decompiles, prunes and recompiles every
table); a certificate needs a few dozen glyphs of one TrueType font without composite
glyphs or hinting. So the font is read once per process into its glyph records (bytes,
as stored) and metrics, and a subset is assembled by copying the records of the glyphs
used into a new glyf/loca/hmtx with glyph ids renumbered 1…n in order of use (0 stays
.notdef). The subset is embedded as a CIDFontType2 with Identity CID→GID, so the
content stream's two-byte codes are the new glyph ids, and a ToUnicode map makes the
text extractable. Everything is per call: no document ever shares a subset.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache

from fontTools.ttLib import TTFont

from bcl_console.pdfgen.fonts import mincho_path

_CHECKSUM_MAGIC = 0xB1B0AFBA


@dataclass(frozen=True)
class FontFace:
    """The font as raw glyph records and metrics (read once per process, never changed)."""

    units_per_em: int
    cmap: dict[int, int]  # code point → glyph id
    advances: tuple[int, ...]  # by glyph id, font units
    lsbs: tuple[int, ...]
    glyphs: tuple[bytes, ...]  # raw glyf records by glyph id, each padded to 4 bytes
    sums: tuple[int, ...]  # each padded record's checksum (a table's is their sum)
    head: bytes
    hhea: bytes
    maxp: bytes
    os2: bytes
    ascent: int
    descent: int
    cap_height: int
    bbox: tuple[int, int, int, int]

    def width(self, text: str, size: float) -> float:
        """The advance of ``text`` at ``size`` in the same unit as ``size``."""
        cmap, adv = self.cmap, self.advances
        return sum(adv[cmap.get(ord(ch), 0)] for ch in text) * size / self.units_per_em

    def has(self, char: str) -> bool:
        return ord(char) in self.cmap


_lock = threading.Lock()


@lru_cache(maxsize=1)
def face() -> FontFace:
    with _lock:
        font = TTFont(str(mincho_path()), lazy=True)
        head, hhea = font["head"], font["hhea"]
        if font["head"].indexToLocFormat not in (0, 1) or "CFF " in font:
            raise ValueError("the bundled font is not a TrueType font")
        n = font["maxp"].numGlyphs
        raw_glyf = font.reader["glyf"]
        loca = font["loca"]
        glyphs = []
        for gid in range(n):
            record = raw_glyf[loca[gid]:loca[gid + 1]]
            if record and struct.unpack(">h", record[:2])[0] < 0:
                raise ValueError("the bundled font has composite glyphs, which this subsetter does not copy")
            glyphs.append(bytes(record) + b"\0" * (-len(record) % 4))
        metrics = font["hmtx"].metrics
        order = font.getGlyphOrder()
        advances = tuple(metrics[name][0] for name in order)
        lsbs = tuple(metrics[name][1] for name in order)
        best = font.getBestCmap()
        ids = font.getReverseGlyphMap()
        return FontFace(
            units_per_em=head.unitsPerEm,
            cmap={cp: ids[name] for cp, name in best.items()},
            advances=advances, lsbs=lsbs, glyphs=tuple(glyphs), sums=tuple(_checksum(g) for g in glyphs),
            head=bytes(font.reader["head"]), hhea=bytes(font.reader["hhea"]),
            maxp=bytes(font.reader["maxp"]), os2=bytes(font.reader["OS/2"]),
            ascent=hhea.ascent, descent=hhea.descent,
            cap_height=getattr(font["OS/2"], "sCapHeight", hhea.ascent),
            bbox=(head.xMin, head.yMin, head.xMax, head.yMax),
        )


@dataclass
class Subset:
    """The glyphs one document uses, numbered in order of first use."""

    face: FontFace
    codes: dict[str, int]  # character → new glyph id (= CID)

    def __init__(self, face_: FontFace) -> None:
        self.face = face_
        self.codes = {}

    def encode(self, text: str) -> str:
        """``text`` as the hex string of a Tj operand, adding its glyphs to the subset."""
        codes, cmap = self.codes, self.face.cmap
        out = []
        for ch in text:
            cid = codes.get(ch)
            if cid is None:
                if ord(ch) not in cmap:
                    raise ValueError(f"the font has no glyph for {ch!r} (U+{ord(ch):04X})")
                cid = codes[ch] = len(codes) + 1
            out.append(f"{cid:04X}")
        return "<" + "".join(out) + ">"

    def old_ids(self) -> list[int]:
        """Old glyph id of each new id (index 0: .notdef)."""
        cmap = self.face.cmap
        return [0] + [cmap[ord(ch)] for ch in self.codes]

    def tag(self) -> str:
        """The six-letter subset tag of the font name (the same glyphs, the same tag)."""
        digest = hashlib.sha256("".join(self.codes).encode("utf-8")).digest()
        return "".join(chr(65 + b % 26) for b in digest[:6])

    def font_program(self) -> bytes:
        """A TrueType file of exactly the glyphs used (FontFile2)."""
        f = self.face
        old = self.old_ids()
        n = len(old)
        records = [f.glyphs[gid] for gid in old]
        glyf = b"".join(records)
        loca = [0]
        at = 0
        for record in records:
            at += len(record)
            loca.append(at)
        glyf_sum = sum(f.sums[gid] for gid in old) & 0xFFFFFFFF
        hmtx = b"".join(struct.pack(">Hh", f.advances[g], f.lsbs[g]) for g in old)
        head = bytearray(f.head)
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment, set below
        head[50:52] = struct.pack(">h", 1)  # indexToLocFormat: long offsets
        hhea = bytearray(f.hhea)
        hhea[34:36] = struct.pack(">H", n)  # numberOfHMetrics
        maxp = bytearray(f.maxp)
        maxp[4:6] = struct.pack(">H", n)  # numGlyphs
        post = struct.pack(">IiHhII4I", 0x00030000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        tables = {
            b"OS/2": f.os2, b"glyf": glyf, b"head": bytes(head), b"hhea": bytes(hhea),
            b"hmtx": hmtx, b"loca": struct.pack(f">{len(loca)}I", *loca), b"maxp": bytes(maxp), b"post": post,
        }
        return _sfnt(tables, {b"glyf": glyf_sum})


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return int(sum(struct.unpack(f">{len(padded) // 4}I", padded))) & 0xFFFFFFFF


def _sfnt(tables: dict[bytes, bytes], known: dict[bytes, int]) -> bytes:
    """An sfnt file of ``tables`` (tags sorted, 4-byte aligned, checksums set; ``known``
    holds checksums already summed, the glyf table's from its glyphs')."""
    count = len(tables)
    power = 1
    while power * 2 <= count:
        power *= 2
    search = power * 16
    header = struct.pack(">IHHHH", 0x00010000, count, search, power.bit_length() - 1, count * 16 - search)
    offset = 12 + 16 * count
    directory, body = bytearray(), bytearray()
    head_at = 0
    total = 0
    for tag in sorted(tables):
        data = tables[tag]
        if tag == b"head":
            head_at = offset
        checksum = known[tag] if tag in known else _checksum(data)
        total += checksum
        directory += struct.pack(">4sIII", tag, checksum, offset, len(data))
        body += data + b"\0" * (-len(data) % 4)
        offset += len(data) + (-len(data) % 4)
    font = bytearray(header + directory + body)
    # The whole file's checksum: every table is 4-byte aligned, so it is the header's
    # and directory's plus the tables' (with head's checkSumAdjustment still 0).
    whole = (_checksum(bytes(header + directory)) + total) & 0xFFFFFFFF
    adjustment = (_CHECKSUM_MAGIC - whole) & 0xFFFFFFFF
    font[head_at + 8:head_at + 12] = struct.pack(">I", adjustment)
    return bytes(font)
