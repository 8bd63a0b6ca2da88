"""The table bench/proxy_compare.py prints: medians of the runs, the ratios of issues 9 and 31, pass/fail marks."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

# The project's pin, which issue 31's throughput target was set against.
from compare_procs import LITELLM_VERSION as PINNED

REPO = Path(__file__).resolve().parent.parent
LITELLM = "litellm-"  # a LiteLLM target's name: this, then its version
FIGURES = ("p50_ms", "p50_long_ms", "rps", "ttfb_sse_ms", "ttfb_paced_ms")
# Each Hermes / LiteLLM ratio: (Hermes's figure over LiteLLM's, which LiteLLM the target is judged against).
# Latency and streams against the newest LiteLLM measured, what a user installs today; throughput against
# the pinned one, since the 10x was set on it (the oldest measured if it is not among them).
RATIOS = {
    "added_latency": ("added_ms", "newest"),
    "added_latency_long": ("added_long_ms", "newest"),
    "throughput": ("rps", "pinned"),
    "ttfb_sse": ("ttfb_sse_ms", "newest"),
    "ttfb_paced": ("ttfb_paced_ms", "newest"),
}


def litellm_target(version: str) -> str:
    return LITELLM + version


def version_key(version: str) -> tuple[int, ...]:
    """Orders versions numerically ("1.100.5" before "1.108.7" before "1.1000.0"), not as text."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def litellm_targets(targets: list[str]) -> list[str]:
    """The LiteLLM targets among `targets`, oldest version first."""
    return sorted((t for t in targets if t.startswith(LITELLM)), key=lambda t: version_key(t.removeprefix(LITELLM)))


def judged_against(targets: list[str]) -> dict[str, str]:
    """For each ratio, the LiteLLM target its PASS/FAIL is judged against (see RATIOS)."""
    litellm = litellm_targets(targets)
    pinned = litellm_target(PINNED) if litellm_target(PINNED) in litellm else litellm[0]
    return {ratio: litellm[-1] if against == "newest" else pinned for ratio, (_, against) in RATIOS.items()}


def name(target: str) -> str:
    """How the table names a target: "direct", "LiteLLM 1.108.7", "Hermes"."""
    if target.startswith(LITELLM):
        return f"LiteLLM {target.removeprefix(LITELLM)}"
    return "Hermes" if target == "hermes" else target


def summarize(runs: list[dict], cli: dict[str, list[float]]) -> dict:
    """Medians over the runs for every target (in the runs' order: direct, each LiteLLM, Hermes), and the ratios.

    The ratios are Hermes's over each LiteLLM version's; `judged_against` says which one each target reads.
    """
    targets = list(runs[0])
    summary: dict = {"targets": targets}
    summary |= {target: _figures(runs, target) for target in targets}
    hermes = summary["hermes"]
    summary["ratios"] = {target: {ratio: _ratio(hermes[key], summary[target][key])
                                  for ratio, (key, _) in RATIOS.items()}
                         for target in litellm_targets(targets)}
    summary["judged_against"] = judged_against(targets)
    summary["cli_s"] = {command: statistics.median(times) for command, times in cli.items()}
    return summary


def _figures(runs: list[dict], target: str) -> dict:
    """One target's medians; its added latency is taken run by run (against the same run's direct), then the median."""
    figures = {key: statistics.median(run[target][key] for run in runs) for key in FIGURES}
    for added, key in (("added_ms", "p50_ms"), ("added_long_ms", "p50_long_ms")):
        figures[added] = statistics.median(run[target][key] - run["direct"][key] for run in runs)
    delays = sorted(d for run in runs for d in run[target]["delays_ms"])
    figures["delay_p50_ms"] = statistics.median(delays) if delays else None
    figures["delay_max_ms"] = delays[-1] if delays else None
    figures["delay_chunks"] = len(delays)
    figures["errors"] = sum(run[target]["errors"] for run in runs)
    return figures


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def metadata(label: str, litellm_versions: list[str], args: argparse.Namespace, elapsed_s: float,
             load_before: float) -> dict:
    """The header's facts; `litellm_versions` oldest first (proxy_compare checked each against its venv)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "hermes": label, "litellm": litellm_versions, "cpu": cpu, "nproc": nproc,
        "python": platform.python_version(), "runs": args.runs, "seconds": args.seconds,
        "interval_ms": args.interval * 1000, "elapsed_s": round(elapsed_s), "workers": args.hermes_workers,
        # The 1-minute load average before the bench started and as it ended: on 2 cores, much
        # above 1 before means something else was running and every figure is slower than it should be.
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
    }


def render(summary: dict, meta: dict) -> str:
    """The Markdown table: a column per target, a Hermes / LiteLLM column per LiteLLM version, the targets' marks."""
    targets, litellm, hermes = summary["targets"], litellm_targets(summary["targets"]), summary["hermes"]
    blank = [""] * len(litellm)

    def row(label: str, key: str, fmt: Callable[[float], str], direct: bool = True, ratio: str | None = None,
            mark: str = "") -> str:
        """One row: the figure `key` of every target (direct's left blank unless `direct`), then the ratios."""
        cells = [fmt(summary[t][key]) if direct or t != "direct" else "" for t in targets]
        ratios = [_x(summary["ratios"][t][ratio]) for t in litellm] if ratio else blank
        return f"| {' | '.join([label, *cells, *ratios, mark])} |"

    def versus(ratio: str, op: str, limit: float, text: str) -> str:
        """A ratio's mark, against the LiteLLM version it is judged against."""
        against = summary["judged_against"][ratio]
        return _mark(summary["ratios"][against][ratio], op, limit, f"{text} of {name(against)}")

    rows = [
        row("c=1 latency p50", "p50_ms", _ms),
        row("c=1 added latency p50 (over direct)", "added_ms", _ms, direct=False, ratio="added_latency",
            mark=versus("added_latency", "<=", 0.15, "≤ 0.15×")),
        row("c=1 latency p50, OpenCode-sized conversation (100 messages, 10 tools)", "p50_long_ms", _ms),
        row("c=1 added latency p50, OpenCode-sized conversation", "added_long_ms", _ms, direct=False,
            ratio="added_latency_long", mark=versus("added_latency_long", "<=", 0.15, "≤ 0.15×") + ", "
            + _mark(hermes["added_long_ms"], "<=", 1.5, "Hermes ≤ 1.5 ms")),
        row("throughput at c=32", "rps", _rps, ratio="throughput", mark=versus("throughput", ">=", 10, "≥ 10×")),
        row("stream, time to first `data:` (upstream sends all at once)", "ttfb_sse_ms", _ms, ratio="ttfb_sse",
            mark=versus("ttfb_sse", "<=", 0.25, "≤ 0.25×")),
        row(f"stream, time to first `data:` (upstream paces chunks {meta['interval_ms']:g} ms apart)",
            "ttfb_paced_ms", _ms, ratio="ttfb_paced", mark=versus("ttfb_paced", "<=", 0.25, "≤ 0.25×")),
        row("paced stream, chunk sent -> received, p50", "delay_p50_ms", _ms),
        row("paced stream, chunk sent -> received, max", "delay_max_ms", _ms,
            mark=_mark(hermes["delay_max_ms"], "<=", 2.0, "Hermes ≤ 2 ms")),
    ]
    headers = ["", "direct to upstream", *(f"LiteLLM proxy {t.removeprefix(LITELLM)}" for t in litellm), "Hermes",
               *(f"Hermes / {name(t)}" for t in litellm), "target"]
    lines = [
        _header(meta),
        "",
        f"| {' | '.join(headers).strip()} |",
        "|---|" + "---:|" * (len(headers) - 2) + "---|",
        *rows,
        "",
        "Chunks timed on the paced stream: " + ", ".join(f"{name(t)} {summary[t]['delay_chunks']}" for t in targets),
    ]
    errors = {t: summary[t]["errors"] for t in targets if summary[t]["errors"]}
    if errors:
        lines += ["", "Failed requests (the figures above count only the answered ones): "
                  + ", ".join(f"{name(t)} {n}" for t, n in errors.items())]
    lines += ["", "| command | wall time, median | target |", "|---|---:|---|"]
    lines += [f"| `{command}` | {seconds:.2f} s | {_mark(seconds, '<', 0.5, '< 0.5 s')} |"
              for command, seconds in summary["cli_s"].items()]
    return "\n".join(lines)


def _header(meta: dict) -> str:
    versions = meta["litellm"]
    litellm = " and ".join(versions) + (" (1 worker each)" if len(versions) > 1 else " (1 worker)")
    return (f"{meta['date']} · Hermes {meta['hermes']} ({meta['workers']} worker{'s' if meta['workers'] > 1 else ''} "
            f"on the non-streamed points) · LiteLLM proxy {litellm} · {meta['nproc']} × "
            f"{meta['cpu']} · Python {meta['python']} · medians of {meta['runs']} interleaved runs of "
            f"{meta['seconds']:g} s · {meta['elapsed_s']} s in all · load average {meta['load_before']:g} before, "
            f"{meta['load_after']:g} after")


def _mark(value: float | None, op: str, limit: float, text: str) -> str:
    if value is None:
        return f"{text} (no figure)"
    ok = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[op]
    return f"{text} {'PASS' if ok else 'FAIL'}"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) < 0.1:
        return f"{value:.3f} ms"
    return f"{value:.2f} ms" if abs(value) < 10 else f"{value:.1f} ms"


def _rps(value: float) -> str:
    return f"{value:,.0f} req/s" if value >= 1000 else f"{value:.1f} req/s"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"
