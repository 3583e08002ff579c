"""Layout versions (様式の版) of each certificate type: what a law change adds to a
document. The versions are part of the code (a version is a content builder and what it
prints); which one stores print is the centre's state (staged, re-tested, activated)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import CertificateType


class LayoutState(StrEnum):
    #: Known to the code, never staged.
    AVAILABLE = "available"
    #: Being re-tested by the centre; only stage-2 re-tests print it.
    STAGED = "staged"
    #: What every channel prints.
    ACTIVE = "active"
    #: Was active; documents made with it stay valid.
    RETIRED = "retired"


@dataclass(frozen=True)
class Layout:
    type: CertificateType
    version: int
    title: str
    change: str


_ALL = (
    *(Layout(t, 1, "標準様式", "the national standard layout") for t in CertificateType),
    Layout(CertificateType.RESIDENCE, 2, "旧氏・ローマ字併記",
           "旧氏 (former surname, 併記 since 2019) and the name in ローマ字, from the linkage data"),
)
LAYOUTS: dict[tuple[CertificateType, int], Layout] = {(x.type, x.version): x for x in _ALL}
#: The version a type prints when the centre never activated another.
FIRST_VERSION = 1


def versions_of(ctype: CertificateType) -> list[Layout]:
    return sorted((x for x in _ALL if x.type is ctype), key=lambda x: x.version)


def layout(ctype: CertificateType, version: int) -> Layout:
    """The layout of a type and version; InvalidInput naming the versions there are."""
    found = LAYOUTS.get((ctype, version))
    if found is None:
        known = ", ".join(str(x.version) for x in versions_of(ctype))
        raise InvalidInput(f"{ctype.value} has no layout version {version} (versions: {known})", field="version")
    return found
