"""Money as a person reads it: one rule everywhere, and no amount that is not zero reads as zero."""

from __future__ import annotations

import math

import pytest

from proxy.money.format import usd


@pytest.mark.parametrize(("amount", "shown"), [
    (0.0, "$0.00"), (4.87, "$4.87"), (5.0, "$5.00"), (0.1, "$0.10"), (0.0999, "$0.0999"), (0.0125, "$0.0125"),
    (0.00125, "$0.00125"), (0.0000102, "$0.0000102"), (0.0005, "$0.000500"), (1e-12, "$0.00000000000100"),
    (-0.0042, "-$0.00420"), (1234.5, "$1234.50"), (math.inf, "n/a"),
])
def test_whole_cents_from_ten_cents_up_and_three_significant_digits_below(amount: float, shown: str) -> None:
    assert usd(amount) == shown


def test_the_dashboard_formats_money_by_the_same_rule() -> None:
    from tests.edge.test_dashboard_page import usd as dashboard_usd  # the page's rule, as its tests read it

    for amount in (0.0, 4.87, 0.0999, 0.0125, 0.00125, 0.0000102, 0.0005, 12.5):
        assert usd(amount) == dashboard_usd(amount)
