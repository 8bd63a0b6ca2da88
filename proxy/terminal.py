"""How `hermes budget` and `hermes stats` look at a terminal: their figures as rich tables.

Rendering only: the figures come from proxy/budget_report.py (the ledger) and
from the running proxy's dashboard API (stats), so `--json` never imports rich.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table


def render_budget(report: dict[str, Any], console: Console) -> None:
    left = report["remaining_usd"]
    summary = Table(title=f"Hermes budget for {report['day']}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Spent today", f"${report['spent_usd']:.4f}" + (
        f" (+${report['reserved_usd']:.4f} reserved)" if report["reserved_usd"] else ""))
    summary.add_row("Remaining", f"${left:.4f} of ${report['limit_usd']:.2f}")
    summary.add_row("Tier", report["tier"] + (f" ({', '.join(report['allowed_models'])})"
                                              if report["allowed_models"] else " (local models only)"))
    hours, rest = divmod(max(report["resets_in_s"], 0), 3600)
    resets = datetime.fromisoformat(report["resets_at"])
    summary.add_row("Resets", f"in {hours}h {rest // 60:02d}m, at {resets:%H:%M %Z}")
    rate = report["local_success_rate"]
    summary.add_row("Local success", "no local tries yet" if rate is None else
                    f"{rate:.0%} of {report['local_tries']} tries")
    console.print(summary)
    if report["by_model"]:
        by_model = Table(title="Spend by model", title_justify="left")
        by_model.add_column("model")
        by_model.add_column("calls", justify="right")
        by_model.add_column("cost", justify="right")
        for row in report["by_model"]:
            by_model.add_row(row["model"], str(row["calls"]), f"${row['cost_usd']:.4f}")
        console.print(by_model)


def render_stats(data: dict[str, Any], console: Console) -> None:
    """The dashboard's figures (`GET /api/v1/monitoring/dashboard`) as terminal tables."""
    budget, upgrade, quality, latency = data["budget"], data["upgrade"], data["quality"], data["latency_ms"]
    overview = Table(title=f"Hermes, last {data['window_days']} days", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("Budget today", f"${budget['spent_usd']:.4f} spent, ${budget['remaining_usd']:.4f} left "
                                     f"of ${budget['limit_usd']:.2f} ({budget['tier']})")
    overview.add_row("Spend, 14 days", f"${sum(day['total_usd'] for day in data['spend_by_day']):.4f}")
    overview.add_row("Upgrade rate", _share(upgrade["rate"]) + f" of {upgrade['auto_requests']} auto requests")
    overview.add_row("Mean quality", "n/a" if quality["mean"] is None else f"{quality['mean']:.1f} over {quality['scored']} scored")
    overview.add_row("Latency", "n/a" if latency["p50"] is None else
                     f"p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms over {latency['requests']} requests")
    console.print(overview)
    by_task = Table(title="By task type", title_justify="left")
    for column in ("task type", "requests", "local share", "local success"):
        by_task.add_column(column, justify="left" if column == "task type" else "right")
    for row in data["by_task_type"]:
        by_task.add_row(row["task_type"], str(row["requests"]), _share(row["local_share"]),
                        _share(row["local_success_rate"]))
    console.print(by_task)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
