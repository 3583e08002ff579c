"""Kinds of terminal the centre registers for a municipality, each with a token of its own
(contract §13, §14): a management terminal (管理端末) controls the municipality's store
issuance over /manage/v1; a counter terminal (らくらく窓口) issues certificates at the town
hall counter by the resident's card over /counter/v1. Both are kept and revoked alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TerminalKind:
    #: As stored (terminals.kind).
    key: str
    #: How sentences name one: "management terminal".
    label: str
    #: How its token begins (so a leaked one is recognised for what it is).
    token_prefix: str
    #: The interface the audit trail names for what the terminal does.
    interface: str
    #: Audit actions of its registration and revocation.
    add_action: str
    revoke_action: str


MANAGE = TerminalKind("manage", "management terminal", "bcl_mgt_", "manage", "terminal-add", "terminal-revoke")
COUNTER = TerminalKind("counter", "counter terminal", "bcl_ctr_", "counter", "counter-register", "counter-revoke")
KINDS = {k.key: k for k in (MANAGE, COUNTER)}
