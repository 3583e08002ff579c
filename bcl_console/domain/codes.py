"""The national local-government code (全国地方公共団体コード) and its check digit."""

from __future__ import annotations

from bcl_console.domain.errors import InvalidInput

_WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(first_five: str) -> int:
    """The check digit of a five-digit code: (11 - sum(w*d) mod 11) mod 10."""
    if len(first_five) != 5 or not first_five.isascii() or not first_five.isdigit():
        raise InvalidInput(f"{first_five!r} is not five digits", field="code")
    s = sum(w * int(d) for w, d in zip(_WEIGHTS, first_five, strict=True))
    return (11 - s % 11) % 10


def with_check_digit(first_five: str) -> str:
    """The full six-digit code for a five-digit one."""
    return f"{first_five}{check_digit(first_five)}"


def validate_municipality_code(code: str) -> str:
    """Return the code if it is six ASCII digits with a right check digit, else raise."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput(
            f"municipality code {code!r} must be 6 digits (5 digits and a check digit)",
            field="code",
        )
    expected = check_digit(code[:5])
    if int(code[5]) != expected:
        raise InvalidInput(
            f"municipality code {code} has a wrong check digit (expected {code[:5]}{expected})",
            field="code",
        )
    return code
