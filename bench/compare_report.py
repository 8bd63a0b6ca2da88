"""The table bench/proxy_compare.py prints: medians of the runs, issue 9's ratios, pass/fail marks."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("direct", "litellm", "hermes")


def summarize(runs: list[dict], cli: dict[str, list[float]]) -> dict:
    def median(target: str, key: str) -> float:
        return statistics.median(run[target][key] for run in runs)

    summary: dict = {t: {} for t in TARGETS}
    for target in TARGETS:
        figures = summary[target]
        for key in ("p50_ms", "rps", "ttfb_sse_ms", "ttfb_paced_ms"):
            figures[key] = median(target, key)
        # Added latency run by run (each against the same run's direct figure), then the median.
        figures["added_ms"] = statistics.median(run[target]["p50_ms"] - run["direct"]["p50_ms"] for run in runs)
        delays = sorted(d for run in runs for d in run[target]["delays_ms"])
        figures["delay_p50_ms"] = statistics.median(delays) if delays else None
        figures["delay_max_ms"] = delays[-1] if delays else None
        figures["delay_chunks"] = len(delays)
        figures["errors"] = sum(run[target]["errors"] for run in runs)
    hermes, litellm = summary["hermes"], summary["litellm"]
    summary["ratios"] = {
        "added_latency": _ratio(hermes["added_ms"], litellm["added_ms"]),
        "throughput": _ratio(hermes["rps"], litellm["rps"]),
        "ttfb_sse": _ratio(hermes["ttfb_sse_ms"], litellm["ttfb_sse_ms"]),
        "ttfb_paced": _ratio(hermes["ttfb_paced_ms"], litellm["ttfb_paced_ms"]),
    }
    summary["cli_s"] = {command: statistics.median(times) for command, times in cli.items()}
    return summary


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def metadata(label: str, litellm_version: str, args, elapsed_s: float, load_before: float) -> dict:  # type: ignore[no-untyped-def]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "hermes": label, "litellm": litellm_version, "cpu": cpu, "nproc": nproc,
        "python": platform.python_version(), "runs": args.runs, "seconds": args.seconds,
        "interval_ms": args.interval * 1000, "elapsed_s": round(elapsed_s), "workers": args.hermes_workers,
        # The 1-minute load average before the bench started and as it ended: on 2 cores, much
        # above 1 before means something else was running and every figure is slower than it should be.
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
    }


def render(summary: dict, meta: dict) -> str:
    d, l, h, r = summary["direct"], summary["litellm"], summary["hermes"], summary["ratios"]
    rows = [
        ("c=1 latency p50", _ms(d["p50_ms"]), _ms(l["p50_ms"]), _ms(h["p50_ms"]), "", ""),
        ("c=1 added latency p50 (over direct)", "", _ms(l["added_ms"]), _ms(h["added_ms"]),
         _x(r["added_latency"]), _mark(r["added_latency"], "<=", 0.25, "≤ 0.25×")),
        ("throughput at c=32", _rps(d["rps"]), _rps(l["rps"]), _rps(h["rps"]), _x(r["throughput"]),
         _mark(r["throughput"], ">=", 5, "≥ 5×")),
        ("stream, time to first `data:` (upstream sends all at once)", _ms(d["ttfb_sse_ms"]),
         _ms(l["ttfb_sse_ms"]), _ms(h["ttfb_sse_ms"]), _x(r["ttfb_sse"]), _mark(r["ttfb_sse"], "<=", 0.25, "≤ 0.25×")),
        (f"stream, time to first `data:` (upstream paces chunks {meta['interval_ms']:g} ms apart)",
         _ms(d["ttfb_paced_ms"]), _ms(l["ttfb_paced_ms"]), _ms(h["ttfb_paced_ms"]), _x(r["ttfb_paced"]),
         _mark(r["ttfb_paced"], "<=", 0.25, "≤ 0.25×")),
        ("paced stream, chunk sent -> received, p50", _ms(d["delay_p50_ms"]), _ms(l["delay_p50_ms"]),
         _ms(h["delay_p50_ms"]), "", ""),
        ("paced stream, chunk sent -> received, max", _ms(d["delay_max_ms"]),
         _ms(l["delay_max_ms"]), _ms(h["delay_max_ms"]), "", _mark(h["delay_max_ms"], "<=", 2.0, "Hermes ≤ 2 ms")),
    ]
    lines = [
        f"{meta['date']} · Hermes {meta['hermes']} ({meta['workers']} worker{'s' if meta['workers'] > 1 else ''} "
        f"on the non-streamed points) · LiteLLM proxy {meta['litellm']} (1 worker) · {meta['nproc']} × "
        f"{meta['cpu']} · Python {meta['python']} · medians of {meta['runs']} interleaved runs of "
        f"{meta['seconds']:g} s · {meta['elapsed_s']} s in all · load average {meta['load_before']:g} before, "
        f"{meta['load_after']:g} after",
        "",
        "| | direct to upstream | LiteLLM proxy | Hermes | Hermes / LiteLLM | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines += ["", "Chunks timed on the paced stream: " + ", ".join(
        f"{name} {summary[t]['delay_chunks']}" for t, name in zip(TARGETS, ("direct", "LiteLLM", "Hermes")))]
    errors = {t: summary[t]["errors"] for t in TARGETS if summary[t]["errors"]}
    if errors:
        lines += ["", "Failed requests (the figures above count only the answered ones): "
                  + ", ".join(f"{t} {n}" for t, n in errors.items())]
    lines += ["", "| command | wall time, median | target |", "|---|---:|---|"]
    lines += [f"| `{command}` | {seconds:.2f} s | {_mark(seconds, '<', 0.5, '< 0.5 s')} |"
              for command, seconds in summary["cli_s"].items()]
    return "\n".join(lines)


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
