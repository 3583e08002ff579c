"""Katakana readings in ローマ字 as a passport writes them (Hepburn, long vowels
unmarked: サトウ → SATO, ユウト → Yuto), for the demo's residents whose name the
linkage data carries in Latin letters."""

from __future__ import annotations

_DIGRAPHS = {
    "キャ": "kya", "キュ": "kyu", "キョ": "kyo", "シャ": "sha", "シュ": "shu", "ショ": "sho",
    "チャ": "cha", "チュ": "chu", "チョ": "cho", "ニャ": "nya", "ニュ": "nyu", "ニョ": "nyo",
    "ヒャ": "hya", "ヒュ": "hyu", "ヒョ": "hyo", "ミャ": "mya", "ミュ": "myu", "ミョ": "myo",
    "リャ": "rya", "リュ": "ryu", "リョ": "ryo", "ギャ": "gya", "ギュ": "gyu", "ギョ": "gyo",
    "ジャ": "ja", "ジュ": "ju", "ジョ": "jo", "ビャ": "bya", "ビュ": "byu", "ビョ": "byo",
    "ピャ": "pya", "ピュ": "pyu", "ピョ": "pyo",
}
_SINGLE = dict(zip(
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ",
    ("a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho "
     "ma mi mu me mo ya yu yo ra ri ru re ro wa o n "
     "ga gi gu ge go za ji zu ze zo da ji zu de do ba bi bu be bo pa pi pu pe po").split(),
    strict=True,
))


def word(kana: str) -> str:
    """One katakana word in Hepburn (ッ doubles the next consonant, ー and オウ/オオ as O)."""
    out: list[str] = []
    i, double = 0, False
    while i < len(kana):
        pair, ch = kana[i:i + 2], kana[i]
        if ch == "ッ":
            double, i = True, i + 1
            continue
        if ch == "ー":
            i += 1
            continue
        if pair in _DIGRAPHS:
            syllable, i = _DIGRAPHS[pair], i + 2
        else:
            syllable, i = _SINGLE.get(ch, ""), i + 1
        if double and syllable:
            syllable = ("t" if syllable.startswith("ch") else syllable[0]) + syllable
            double = False
        if out and ((syllable in ("u", "o") and out[-1].endswith("o")) or (syllable == "u" and out[-1].endswith("u"))):
            continue  # オウ, オオ, ウウ: the passport form writes one vowel (SATO, OTA, YUTO)
        out.append(syllable)
    return "".join(out)


def roman_name(kana: str) -> str:
    """``ヤマダ ハナコ`` → ``YAMADA Hanako`` (family name in capitals, as 住民票 prints it)."""
    family, _, given = kana.partition(" ")
    return f"{word(family).upper()} {word(given).capitalize()}".strip()
