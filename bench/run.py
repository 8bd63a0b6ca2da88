"""`make bench`: start-up time, the embedded model's speed, and the proxy's own overhead.

Numbers, not pass/fail: run it on a quiet machine and compare runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from proxy.localmodel.embedded import free_port

REPO = Path(__file__).resolve().parent.parent
PROMPT = [{"role": "user", "content": "Write a Python function that reverses a string, with a docstring."}]


def start_hermes(db: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    env |= {"OLLAMA_API_BASE": f"http://127.0.0.1:{free_port()}", "HERMES_DB": str(db), "HERMES_PORT": str(port)}
    started = time.monotonic()
    process = subprocess.Popen([str(Path(sys.executable).parent / "hermes"), "serve", "--config-dir", str(REPO)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url, time.monotonic() - started
        except httpx.HTTPError:
            time.sleep(0.05)
        if process.poll() is not None or time.monotonic() - started > 120:
            raise SystemExit("hermes serve did not become healthy")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, url, startup_s = start_hermes(Path(tmp) / "hermes.db")
        try:
            print(f"start-up to healthy (embedded model)   {startup_s:8.2f} s")
            ollama = httpx.get(f"{url}/health").json()["local_api_base"]

            rates = []
            for _ in range(3):
                body = {"model": "smollm2:135m", "messages": PROMPT, "stream": False,
                        "options": {"num_predict": 128, "temperature": 0}}
                answer = httpx.post(f"{ollama}/api/chat", json=body, timeout=120).json()
                rates.append(answer["eval_count"] / (answer["eval_duration"] / 1e9))
            print(f"embedded model decode speed            {statistics.median(rates):8.1f} tokens/s (median of 3, 128 tokens)")

            direct, proxied = [], []
            for _ in range(20):
                body = {"model": "smollm2:135m", "messages": PROMPT, "stream": False, "options": {"num_predict": 1}}
                started = time.perf_counter()
                httpx.post(f"{ollama}/api/chat", json=body, timeout=60)
                direct.append(time.perf_counter() - started)
                started = time.perf_counter()
                httpx.post(f"{url}/v1/chat/completions", timeout=60,
                           json={"model": "local", "messages": PROMPT, "max_tokens": 1})
                proxied.append(time.perf_counter() - started)
            overhead = [(p - d) * 1000 for p, d in zip(proxied, direct)]
            print(f"proxy overhead per request (1 token)   p50 {percentile(overhead, 0.5):6.1f} ms   "
                  f"p99 {percentile(overhead, 0.99):6.1f} ms   (20 pairs, direct p50 {percentile(direct, 0.5) * 1000:.1f} ms)")
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
