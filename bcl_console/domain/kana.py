"""Katakana readings (氏名カナ): half-width to full-width normalisation and checks."""

from __future__ import annotations

import unicodedata

# Characters allowed in a reading besides katakana proper: the long-vowel mark,
# the middle dot and spaces between family and given name.
_EXTRA = {"ー", "・", " ", "　", "ヽ", "ヾ"}


def normalise_kana(text: str) -> str:
    """Half-width katakana (ｶﾅ) become full-width (カナ), dakuten composed; spaces folded.

    NFKC does exactly the half-width to full-width mapping and composes voiced marks;
    ideographic spaces become one ASCII space so that readings compare equal.
    """
    folded = unicodedata.normalize("NFKC", text)
    return " ".join(folded.replace("\u3000", " ").split())


def is_katakana(text: str) -> bool:
    """True when every character is full-width katakana, a long-vowel mark or a space."""
    if not text.strip():
        return False
    for ch in text:
        if ch in _EXTRA:
            continue
        if not ("\u30a1" <= ch <= "\u30fa"):
            return False
    return True
