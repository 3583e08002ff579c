"""Help on a key (``?`` or F1), for the area on screen: what it is for, every key it
takes (the footer shows only what fits), the keys that open the other areas, and the
commands that do the same from a shell or a scheduler."""

from __future__ import annotations

import inspect

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from bcl_console.screens.widgets.dialog import dialog_css

#: What each area does from the command line (by screen class name).
CLI: dict[str, tuple[str, ...]] = {
    "DashboardScreen": ("bcl-console municipality list", "bcl-console onboarding list"),
    "MonitorScreen": ("bcl-console simulate --duration 60", "GET /metrics",
                      "bcl-console municipality suspend CODE --reason TEXT"),
    "MunicipalitiesScreen": ("bcl-console municipality add|show|hours|suspend|resume|fees|audit",
                             "bcl-console terminal add|list|revoke", "GET /manage/v1/status (a terminal's token)"),
    "LinkageScreen": ("bcl-console link PATH", "bcl-console backup list|restore|export",
                      "bcl-console linkage-token CODE"),
    "SettlementScreen": ("bcl-console settle --fiscal-year N [--close] [--out DIR]",
                         "bcl-console jobs run|history"),
    "OnboardingScreen": ("bcl-console onboarding plan|show|done|list",),
    "DisasterScreen": ("bcl-console disaster …", "bcl-console resident find NAME"),
    "StagesScreen": ("bcl-console teststage run|confirm|show",),
    "LayoutsScreen": ("bcl-console layout list|stage|retest|activate",),
    "CentresScreen": ("bcl-console centre status|promote|rejoin|sync|init-standby",
                      "bcl-console drill two-centres [--seconds S]"),
}


def describe(screen: Screen[object], areas: list[tuple[str, str]]) -> Text:
    """The help text of ``screen`` (plain text with bold headings: no markup to parse, so
    keys such as ``[`` print as themselves); ``areas`` are (key, title) of every area."""
    module = inspect.getmodule(type(screen))
    purpose = " ".join((inspect.getdoc(module) or inspect.getdoc(type(screen)) or "").replace("``", "").split())
    own = [b for b in screen.BINDINGS if isinstance(b, Binding) and b.description]
    text = Text()

    def heading(title: str) -> None:
        text.append(f"\n{title}\n", style="bold")

    text.append(f"{screen.sub_title or type(screen).__name__}\n", style="bold reverse")
    text.append(purpose + "\n")
    heading("Keys here")
    width = max((len(_key(b)) for b in own), default=1)
    for b in own:
        text.append(f"  {_key(b).ljust(width)}  {b.description}\n")
    heading("Areas (from anywhere)")
    for key, title in areas:
        text.append(f"  {key}  {title}\n")
    text.append("  ?  this help (also F1) · ctrl+p command palette · q quit\n")
    commands = CLI.get(type(screen).__name__, ())
    if commands:
        heading("The same from a shell")
        for command in commands:
            text.append(f"  {command}\n")
    return text


def _key(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    names = {"left_square_bracket": "[", "right_square_bracket": "]", "question_mark": "?", "enter": "Enter",
             "escape": "Esc", "tab": "Tab"}
    return ", ".join(names.get(k, k) for k in binding.key.split(","))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = dialog_css("HelpScreen", width=78,
                             extra="HelpScreen VerticalScroll { height: auto; max-height: 80vh; }")
    BINDINGS = [Binding("escape", "close", "Close"), Binding("question_mark", "close", show=False),
                Binding("f1", "close", show=False), Binding("q", "close", show=False)]

    def __init__(self, text: Text) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="help-body"):
                yield Static(self._text, id="help-text")
            yield Static("Esc or ? closes · arrows / PgUp / PgDn scroll", classes="help")

    def action_close(self) -> None:
        self.dismiss(None)
