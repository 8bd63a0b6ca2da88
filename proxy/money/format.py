"""One way to show an amount of money wherever a person reads one: the CLI, error messages, the dashboard.

Whole cents from 10 cents up ($4.87), three significant digits below that
($0.0125, $0.00125, $0.0000102), and $0.00 for nothing: no amount that is
not zero reads as zero. The dashboard's `usd` (static/dashboard.js) follows
the same rule. Headers and JSON carry the exact figures; this is for eyes.
"""

from __future__ import annotations

import math
from typing import Any


def usd(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    size = float(f"{abs(value):.3g}")
    if size == 0:
        return "$0.00"
    if size >= 0.1:
        return f"{sign}${abs(value):.2f}"
    return f"{sign}${size:.{min(2 - math.floor(math.log10(size)), 20)}f}"


def shown_setting(name: str, value: Any) -> str:
    """A setting as a person reads it: the daily limit as money, a number without trailing zeros."""
    if name == "daily_limit_usd" and isinstance(value, (int, float)):
        return usd(float(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def override_line(row: dict[str, Any]) -> str:
    """An override (Override.as_dict) as `hermes budget` and `hermes settings` say it."""
    return (f"{row['name']} {shown_setting(row['name'], row['value'])}, set through the API on "
            f"{row['set_at'][:16].replace('T', ' ')} UTC; {row['file']} says "
            f"{shown_setting(row['name'], row['file_value'])}. Editing the file or `hermes settings --reset "
            f"{row['name']}` goes back to it.")
