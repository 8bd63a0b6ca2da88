"""How `hermes budget`, `hermes stats` and `hermes yolo` look at a terminal, drawn with rich.

Rendering only: the figures come from proxy/money/budget_report.py (the proxy or
the ledger), from the running proxy's dashboard API (stats) and from the
stream yolo reads, so `--json` and piped output never import rich.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.status import Status
from rich.table import Table

from proxy.money.format import override_line, usd


def render_budget(report: dict[str, Any], console: Console) -> None:
    left = report["remaining_usd"]
    summary = Table(title=f"Hermes budget for {report['day']}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Spent today", usd(report["spent_usd"]) + (
        f" (+{usd(report['reserved_usd'])} reserved)" if report["reserved_usd"] else ""))
    summary.add_row("Remaining", f"{usd(left)} of {usd(report['limit_usd'])}")
    summary.add_row("Saved today", _saved(report.get("savings")))
    summary.add_row("Tier", report["tier"] + (f" ({', '.join(report['allowed_models'])})"
                                              if report["allowed_models"] else " (local models only)"))
    hours, rest = divmod(max(report["resets_in_s"], 0), 3600)
    resets = datetime.fromisoformat(report["resets_at"])
    summary.add_row("Resets", f"in {hours}h {rest // 60:02d}m, at {resets:%H:%M %Z}")
    rate = report["local_success_rate"]
    if report["local_tries"] is not None:  # the proxy's money figures leave it out: `hermes stats` has it
        summary.add_row("Local success", "no local tries yet" if rate is None else
                        f"{rate:.0%} of {report['local_tries']} tries")
    summary.add_row("Source", _source(report))
    if report.get("prices"):
        summary.add_row("Prices", report["prices"])
    console.print(summary)
    if report["by_model"]:
        by_model = Table(title="Spend by model", title_justify="left")
        by_model.add_column("model")
        by_model.add_column("calls", justify="right")
        by_model.add_column("cost", justify="right")
        for row in report["by_model"]:
            by_model.add_row(row["model"], str(row["calls"]), usd(row["cost_usd"]))
        console.print(by_model)
    if report.get("by_key"):
        by_key = Table("key", "spent today", "daily limit", title="Spend by key", title_justify="left")
        for row in report["by_key"]:
            limit = "global" if row["daily_limit_usd"] is None else usd(row["daily_limit_usd"])
            by_key.add_row(row["name"] + (" (revoked)" if row["revoked"] else ""), usd(row["spent_usd"]), limit)
        console.print(by_key)
    for row in report.get("overrides") or []:
        console.print(f"[bold yellow]Override:[/] {override_line(row)}")
    for row in report.get("stale_prices") or []:
        console.print(f"[bold yellow]Stale price:[/] {row['model']} billed {usd(row['bill_usd'])} on a "
                      f"{usd(row['reserved_usd'])} reservation ({row['found_at'][:16].replace('T', ' ')} UTC): its "
                      f"reservations now scale x{row['factor']:.3g}. Set its price in routing_rules.yaml.")


def render_stats(data: dict[str, Any], console: Console) -> None:
    """The dashboard's figures (`GET /api/v1/monitoring/dashboard`) as terminal tables."""
    budget, upgrade, quality, latency = data["budget"], data["upgrade"], data["quality"], data["latency_ms"]
    overview = Table(title=f"Hermes, last {data['window_days']} days", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("Budget today", f"{usd(budget['spent_usd'])} spent, {usd(budget['remaining_usd'])} left "
                                     f"of {usd(budget['limit_usd'])} ({budget['tier']})")
    overview.add_row("Spend, 14 days", usd(sum(day["total_usd"] for day in data["spend_by_day"])))
    overview.add_row("Upgrade rate", _share(upgrade["rate"]) + f" of {upgrade['auto_requests']} auto requests")
    overview.add_row("Mean quality", "n/a" if quality["mean"] is None else f"{quality['mean']:.1f} over {quality['scored']} scored")
    overview.add_row("Latency", "n/a" if latency["p50"] is None else
                     f"p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms over {latency['requests']} requests")
    if "prompt_cache" in data:  # a proxy from before prompt caching was counted sends none
        overview.add_row("Prompt cache", _cache(data["prompt_cache"]))
    if "prices" in data:
        overview.add_row("Prices", data["prices"]["source"])
    console.print(overview)
    by_task = Table(title="By task type", title_justify="left")
    for column in ("task type", "requests", "local share", "local success"):
        by_task.add_column(column, justify="left" if column == "task type" else "right")
    for row in data["by_task_type"]:
        by_task.add_row(row["task_type"], str(row["requests"]), _share(row["local_share"]),
                        _share(row["local_success_rate"]))
    console.print(by_task)


def _cache(cache: dict[str, Any]) -> str:
    """What the providers' prompt caches did with the cloud calls' input, as the "Prompt cache" row says it."""
    if not cache["input_tokens"]:
        return "no cloud calls yet"
    return (f"{_share(cache['read_share'])} of cloud input read from the cache ({cache['read_tokens']:,} of "
            f"{cache['input_tokens']:,} tokens), {cache['written_tokens']:,} written")


def _source(report: dict[str, Any]) -> str:
    if report["source"] == "proxy":
        return f"the running proxy at {report['url']}"
    kind = "database" if "://" in str(report["database"]) else "database file"
    return f"the {kind} {report['database']} ({report['source_reason']})"


def _saved(savings: dict[str, Any] | None) -> str:
    """What today's local answers saved, as the "Saved today" row says it."""
    if savings is None:
        return "not reported (the proxy predates savings)"
    if savings["today_usd"] is None:
        return "nothing yet (no local answer stood in for a cloud model today)"
    answers = savings["answers"]
    return (f"{usd(savings['today_usd'])} by {answers} local answer{'s' if answers != 1 else ''} "
            "(the cloud model's estimated cost)")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


class AnswerView:
    """`hermes yolo` at a terminal: the proxy's status while it waits, then the answer as Markdown.

    `markdown`: stdout is a terminal (else the answer goes out raw, as when
    piped); `status`: stderr is one (else no status line). The status line
    is transient, gone once the answer starts; the answer shows its newest
    lines as it streams, and is printed whole when it ends.
    """

    def __init__(self, markdown: bool, status: bool, out: TextIO = sys.stdout) -> None:
        self._console = Console(file=out) if markdown else None
        self._raw = out
        self._errors = Console(stderr=True) if status else None
        self._status: Status | None = None
        self._live: Live | None = None
        self._text = ""

    def status(self, text: str) -> None:
        if self._errors is None or self._text:
            return
        line = f"hermes: {text}"
        if self._status is None:
            self._status = Status(line, console=self._errors, spinner="dots")
            self._status.start()
        else:
            self._status.update(line)

    def write(self, text: str) -> None:
        self._stop_status()
        self._text += text
        if self._console is None:
            self._raw.write(text)
            self._raw.flush()
        elif self._live is None:
            self._live = Live(_Tail(Markdown(self._text)), console=self._console, refresh_per_second=8,
                              transient=True, vertical_overflow="visible")
            self._live.start()
        else:
            self._live.update(_Tail(Markdown(self._text)))

    def end(self) -> None:
        self._stop_status()
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._text and self._console is not None:
            self._console.print(Markdown(self._text))
        elif self._text:
            self._raw.write("\n")
        self._text = ""

    def note(self, line: str) -> None:
        if self._console is None:
            self._raw.write(line + "\n")
            self._raw.flush()
        else:
            self._console.print(line, style="dim", markup=False, highlight=False, soft_wrap=True)

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


class _Tail:
    """The last screenful of a renderable: what a live view of a growing answer shows."""

    def __init__(self, renderable: Markdown) -> None:
        self._renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self._renderable, options, pad=False)
        for index, line in enumerate(lines[-max(options.size.height - 1, 1):]):
            if index:
                yield Segment.line()
            yield from line
