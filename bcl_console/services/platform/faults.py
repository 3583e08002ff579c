"""Named crash points for the fault-injection tests (a power failure, ``kill -9``).

A test starts a real process with ``BCL_FAULT_POINT=NAME``; when that process reaches
``fault_point(NAME)`` it kills itself with SIGKILL, exactly as a power cut would stop it
there: no ``finally`` blocks, no flushing, no clean close. Without the variable (every
real deployment) a point costs one dictionary look-up.

Points: ``link:reading`` (checksums), ``link:inserting`` (rows written, uncommitted),
``link:before-commit`` and ``link:after-commit`` (a batch's transaction),
``pay:after-render`` and ``pay:after-commit`` (a kiosk payment), ``complete:after-commit``.
"""

from __future__ import annotations

import os
import signal

ENV = "BCL_FAULT_POINT"


def fault_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
