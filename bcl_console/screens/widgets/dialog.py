"""What every modal dialog of the console shares: centred, a rounded border, a bold title
and a muted line of keys at the bottom."""

from __future__ import annotations


def dialog_css(screen: str, *, width: int, border: str = "$accent", extra: str = "") -> str:
    """The DEFAULT_CSS of a modal screen class named ``screen``."""
    return f"""
    {screen} {{ align: center middle; }}
    {screen} > Vertical {{
        width: {width}; max-width: 100%; height: auto; max-height: 100%;
        border: round {border}; background: $surface; padding: 0 1;
    }}
    {screen} .title {{ text-style: bold; padding-bottom: 1; }}
    {screen} .help {{ color: $text-muted; }}
    {extra}
    """
