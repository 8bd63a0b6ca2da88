"""The processes bench/proxy_compare.py runs: mocks, LiteLLM's proxy, Hermes; all on loopback.

Every process starts in a session of its own and is registered with a
`Children`, which ends each one's process group (SIGTERM, then SIGKILL) on
exit, whether the bench finished, failed or was interrupted.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mock_bodies
import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# 1.100.5 is the project's own pin (pyproject.toml), the version every earlier result
# in docs/benchmarks.md was measured against; 1.108.7 is the current release, what a
# user installs today. (1.107.0 was a compromised release: never bench it.)
LITELLM_VERSION = "1.100.5"
LITELLM_VERSIONS = (LITELLM_VERSION, "1.108.7")
LITELLM_VENV = REPO / ".bench" / "litellm-venv"  # the pinned version's, where it has always been
STARTUP_TIMEOUT_S = 180
STOP = threading.Event()  # set when the bench is stopping: waits for start-up give up at once
# Nothing outside this machine, and LiteLLM's price table from its own package.
BASE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "NO_PROXY": "*", "no_proxy": "*"}
DROP_ENV = ("HERMES_", "OPENROUTER_", "OLLAMA_", "LITELLM_", "DATABASE_URL", "HTTP_PROXY", "HTTPS_PROXY",
            "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROP_ENV)}
    return env | BASE_ENV | extra


class Children:
    """The processes started so far; `stop_all` ends them, newest first."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], log: Path, env: dict[str, str], cwd: Path | None = None
              ) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop_all(self) -> None:
        for _, process in reversed(self.processes):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # whatever of its group is still there
            process.wait()
        self.processes.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # its own session: the group id is its pid
    except (ProcessLookupError, PermissionError):
        pass


def wait_ready(name: str, process: subprocess.Popen[bytes], port: int, path: str, log: Path) -> None:
    """Until GET `path` answers 200, the process dies, or STARTUP_TIMEOUT_S passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and not STOP.is_set():
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode} before it was ready; its log:\n"
                             + log.read_text(errors="replace")[-3000:])
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    if STOP.is_set():
        raise SystemExit(f"stopped while {name} was starting")
    raise SystemExit(f"{name} was not ready on port {port} within {STARTUP_TIMEOUT_S} s; the end of its log:\n"
                     + log.read_text(errors="replace")[-3000:])


def litellm_venv(version: str = LITELLM_VERSION) -> Path:
    """Each version's own venv in .bench/, so versions never share (or upgrade) each other's packages.

    The pinned version keeps the directory it always had, so a machine that ran
    the bench before does not install it again.
    """
    return LITELLM_VENV if version == LITELLM_VERSION else REPO / ".bench" / f"litellm-{version}-venv"


def ensure_litellm_venv(version: str = LITELLM_VERSION) -> Path:
    """`version`'s venv with `litellm[proxy]`, made once: a marker file names what was installed."""
    venv = litellm_venv(version)
    marker = venv / f".installed-litellm-{version}"
    if not marker.exists():
        print(f"Installing litellm[proxy]=={version} into {venv} (once; a minute or two) ...", flush=True)
        base_python = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"litellm[proxy]=={version}"], check=True)
        marker.touch()
    return venv / "bin" / "litellm"


def litellm_version(version: str = LITELLM_VERSION) -> str:
    """What `version`'s venv really holds, for the report's header (the marker only says what was asked for)."""
    out = subprocess.run([str(litellm_venv(version) / "bin" / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('litellm'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start_nginx(children: Children, tmp: Path) -> int:
    port = free_port()
    bodies = {"@SSE@": mock_bodies.instant_stream().decode(), "@JSON@": mock_bodies.completion().decode(),
              "@MESSAGE@": mock_bodies.message().decode(), "@RESPONSE@": mock_bodies.response().decode()}
    assert not any("'" in body or "\\" in body for body in bodies.values()), "bodies must fit in an nginx '...' string"
    conf = (BENCH / "mock_nginx.conf").read_text().replace("@TMP@", str(tmp)).replace("@PORT@", str(port))
    for name, body in bodies.items():
        conf = conf.replace(name, body)
    (tmp / "nginx.conf").write_text(conf)
    log = tmp / "nginx.log"
    process = children.start("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(tmp), "-c",
                                       str(tmp / "nginx.conf")], log, clean_env())
    _wait_port("nginx", process, port, log)
    return port


def start_paced(children: Children, tmp: Path, interval: float, chunks: int) -> int:
    port = free_port()
    log = tmp / "paced.log"
    process = children.start("paced mock", [sys.executable, str(BENCH / "paced_upstream.py"), "--port", str(port),
                                            "--interval", str(interval), "--chunks", str(chunks)], log, clean_env())
    _wait_port("paced mock", process, port, log)
    return port


def _wait_port(name: str, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}; its log:\n" + log.read_text(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{name} did not listen on port {port}; its log:\n" + log.read_text(errors="replace"))


def start_litellm(children: Children, tmp: Path, bases: dict[str, str], version: str = LITELLM_VERSION) -> int:
    """LiteLLM's proxy `version`, one worker, no database, no master key; one model per upstream, bench-<kind>.

    Its config and log are named by version, so several versions can run side by side. Recent
    versions (1.108.7, not 1.100.5) refuse to start without a master key unless told this is local
    development; the variable saying so is read only at start-up, and older versions ignore it, so
    every version runs the same request path: no key checked.
    """
    binary = ensure_litellm_venv(version)
    config = {
        "model_list": [{"model_name": f"bench-{kind}",
                        "litellm_params": {"model": f"openrouter/{mock_bodies.MODEL}", "api_base": base,
                                           "api_key": "bench-key"}}
                       for kind, base in bases.items()],
        "litellm_settings": {"telemetry": False},
    }
    config_file = tmp / f"litellm-{version}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    name, log = f"litellm proxy {version}", tmp / f"litellm-{version}.log"
    process = children.start(name, [str(binary), "--config", str(config_file), "--host", "127.0.0.1",
                                    "--port", str(port), "--num_workers", "1"], log,
                             clean_env(LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY="true"), cwd=tmp)
    wait_ready(name, process, port, "/health/liveliness", log)
    return port


def hermes_config(tmp: Path, src: Path) -> tuple[Path, str]:
    """A config dir: `src`'s files with the embedded model off and a budget too large to bind.

    Returns it and the cloud model the bench requests (the first configured).
    """
    config_dir = tmp / "hermes-config"
    config_dir.mkdir()
    routing = yaml.safe_load((src / "routing_rules.yaml").read_text())
    routing.setdefault("embedded_model", {})["enabled"] = False
    budgets = yaml.safe_load((src / "budgets.yaml").read_text())
    budgets["daily_limit_usd"] = 1_000_000.0
    budgets["session_limit_usd"] = None
    (config_dir / "routing_rules.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    (config_dir / "budgets.yaml").write_text(yaml.safe_dump(budgets, sort_keys=False))
    return config_dir, routing["cloud"]["models"][0]["name"]


def hermes_env(tmp: Path, config_dir: Path, src: Path, name: str, api_base: str) -> dict[str, str]:
    """Hermes's environment; `src` first on PYTHONPATH, so a snapshot other than the checkout can run."""
    python_path = os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)
    return clean_env(HERMES_CONFIG_DIR=str(config_dir), HERMES_DB=str(tmp / f"hermes-{name}.db"),
                     OPENROUTER_API_KEY="bench-key", OPENROUTER_API_BASE=api_base, PYTHONPATH=python_path,
                     OLLAMA_API_BASE=f"http://127.0.0.1:{free_port()}")  # nothing there: no local model


def hermes_binary() -> Path:
    return Path(sys.executable).parent / "hermes"


def start_hermes(children: Children, tmp: Path, config_dir: Path, src: Path, name: str, api_base: str,
                 workers: int = 1) -> int:
    port = free_port()
    log = tmp / f"hermes-{name}.log"
    argv = [str(hermes_binary()), "serve", "--port", str(port)] + (["--workers", str(workers)] if workers > 1 else [])
    process = children.start(f"hermes ({name})", argv, log,
                             hermes_env(tmp, config_dir, src, name, api_base), cwd=tmp)
    wait_ready(f"hermes ({name})", process, port, "/health", log)
    return port
