"""Who asks for a change and through which interface, for the audit trail."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str
    interface: str  # cli, console, api, scheduler, demo

    @classmethod
    def local(cls, interface: str) -> Actor:
        """The operating-system user at this terminal."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls(name=name, interface=interface)


SYSTEM = Actor("system", "scheduler")
DEMO = Actor("demo", "demo")
