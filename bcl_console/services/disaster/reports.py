"""Reports of harm (被災届出): a person tells the municipality what a disaster damaged —
the dwelling, household goods, a vehicle, a business … — and the 被災証明書 certifies that
the report was made, with no on-site assessment (the 罹災証明書 certifies an assessed
damage class). One report per person and disaster: a second one is refused, so that a
certificate already issued and the report on record never silently disagree; a wrong or
incomplete report is amended on purpose (``amend``), which counts a revision and keeps the
earlier text in the audit trail."""

from __future__ import annotations

from bcl_console.domain.errors import InvalidInput
from bcl_console.pdfgen import fontcache
from bcl_console.services.disaster.common import MAX_TEXT, DisasterPart, day, text
from bcl_console.services.platform.actor import Actor
from bcl_console.store.api import DisasterRow, VictimReport

#: The longest report of harm: what one field of the certificate prints (about six lines).
MAX_HARM = MAX_TEXT


def harm_text(value: str) -> str:
    """The reported harm: white space collapsed, 1–200 characters, every one printable."""
    harm = text(value, "harm", MAX_HARM)
    missing = fontcache.missing_glyphs(harm)
    if missing:
        raise InvalidInput(f"the harm text holds {''.join(missing)} (U+{ord(missing[0]):04X}), a character the "
                           "certificate cannot print (外字); write it another way", field="harm")
    return harm


class VictimReports(DisasterPart):
    async def report_harm(self, disaster_id: int, code: str, resident: str, harm: str, *, reported_on: str = "",
                          amend: bool = False, actor: Actor) -> VictimReport:
        """Record (or, with ``amend``, replace) a person's report of harm; ``reported_on``
        is the 届出日 (default today), between the disaster and today."""
        what = harm_text(harm)
        today = self.today()

        def date_of(d: DisasterRow) -> str:
            when = day(reported_on, "date", today) if reported_on.strip() else today
            if when < d.occurred_on or when > today:
                raise InvalidInput(f"the report date {when.isoformat()} is not between the disaster "
                                   f"({d.occurred_on.isoformat()}) and today", field="date")
            return when.isoformat()

        report = await self._store.disaster.report_harm(
            disaster_id, code, resident, what, date_of, amend=amend,
            audit=self._audit(actor, code, "victim-report", f"{disaster_id}/{resident}"))
        self._changed(disaster_id, "victim-report")
        return report

    async def reports(self, disaster_id: int, code: str | None = None) -> list[VictimReport]:
        return await self._store.disaster.victim_reports(disaster_id, code)
