"""Fee settlement (精算) rules, pure: what each municipality and kiosk operator owes or is
owed for a fiscal year, in integer yen.

- BCL usage fee (証明発行機能利用料): 180 yen per billable certificate, BCL-hosted only.
- Store commission (委託手数料): 117 yen per billable certificate, to the store operator.
- Billable: issued at a store (channel ``store``) or in a real-store test
  (``real-store-test``), and not voided; copies count one each. Earlier test stages and
  counter issuance are not billed.
- Net to the municipality: the fees collected minus the commission (domain.md).
- Annual operating contribution (運営負担金) by class, with the BCL reduction from FY2023,
  prorated by months in the joining year (the joining month counted whole, floored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bcl_console.domain.contribution import ContributionClass, contribution_class
from bcl_console.domain.municipality import Hosting, Kind

USAGE_FEE_YEN = 180
COMMISSION_YEN = 117
BILLABLE_CHANNELS = ("store", "real-store-test")
BILLABLE_STATES = ("issued", "printed")
BCL_REDUCTION_FROM = 2023

#: (store issuance users, BCL users from FY2023), yen per fiscal year, tax included.
CONTRIBUTIONS: dict[ContributionClass, tuple[int, int]] = {
    ContributionClass.DESIGNATED_LARGE: (9_879_630, 9_879_630),
    ContributionClass.DESIGNATED: (7_842_593, 7_842_593),
    ContributionClass.CITY_150K: (4_787_037, 4_787_037),
    ContributionClass.CITY_50K: (2_728_000, 2_728_000),
    ContributionClass.CITY_30K: (2_218_741, 2_218_741),
    ContributionClass.CITY_SMALL: (2_218_741, 1_873_259),
    ContributionClass.TOWN_VILLAGE: (690_963, 345_481),
}


def annual_contribution(kind: Kind, population: int, hosting: Hosting, fiscal_year: int) -> int:
    """The full-year contribution of a municipality of this class and hosting."""
    store_users, bcl_users = CONTRIBUTIONS[contribution_class(kind, population)]
    if hosting is Hosting.BCL and fiscal_year >= BCL_REDUCTION_FROM:
        return bcl_users
    return store_users


def months_participating(service_start: date | None, fiscal_year: int) -> int:
    """Months of the fiscal year from the service-start month through March (0 to 12)."""
    if service_start is None:
        return 0
    first = date(fiscal_year, 4, 1)
    last = date(fiscal_year + 1, 3, 31)
    if service_start <= first:
        return 12
    if service_start > last:
        return 0
    index = (service_start.year - fiscal_year) * 12 + service_start.month - 4  # April = 0
    return 12 - index


def contribution(kind: Kind, population: int, hosting: Hosting, fiscal_year: int,
                 service_start: date | None) -> int:
    """The contribution owed for the fiscal year, prorated in the joining year, floored."""
    months = months_participating(service_start, fiscal_year)
    return annual_contribution(kind, population, hosting, fiscal_year) * months // 12


@dataclass(frozen=True)
class Money:
    billable: int
    usage_fee: int
    commission: int
    fees_collected: int
    net_to_municipality: int


def money(billable: int, fees_collected: int, hosting: Hosting) -> Money:
    usage = USAGE_FEE_YEN * billable if hosting is Hosting.BCL else 0
    commission = COMMISSION_YEN * billable
    return Money(billable, usage, commission, fees_collected, fees_collected - commission)


def is_billable(channel: str, state: str) -> bool:
    return channel in BILLABLE_CHANNELS and state in BILLABLE_STATES
