"""Run untrusted Python or JavaScript code in an OS sandbox (bubblewrap), or not at all.

The quality scorer runs a model's code against the examples a prompt carries
(design.md, "Quality scorer signals"). That code is untrusted, so it only ever
runs inside bubblewrap: every namespace unshared (no network, not even
loopback), a tmpfs as its only writable directory, read-only binds of the
system and of the Python installation and nothing of the user's home, a
wall-clock timeout, a memory limit (RLIMIT_AS) and `--die-with-parent`.
Where bubblewrap cannot run, `run_python` refuses: callers skip the signal
and say why, they never fall back to running code unsandboxed. Node runs under
the same limits; `--jitless` is what lets V8 start inside the memory limit
(with its JIT it reserves over 512 MB of address space before running a line).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Output kept from each stream: enough for a traceback, small enough for a log line.
TAIL_CHARS = 4000
# The sandbox may write this much to any one file, its stdout and stderr included
# (SIGXFSZ stops it beyond), so a print loop cannot fill the host's disk.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_OPEN_FILES = 256
# System directories bound read-only; a symlink (merged /usr) is recreated as one.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few /etc files a Python program may read; the rest of /etc stays out.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
WORK_DIR = "/tmp"
HOME_DIR = "/home/sandbox"
# Files larger than the sandbox's tmpfs may hold: 64 MiB.
TMPFS_BYTES = 64 * 1024 * 1024
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": HOME_DIR, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
# No JIT: no executable memory, and V8 fits RLIMIT_AS. One malloc arena and few
# threads, as each thread's arena and stack count against the address space too.
NODE_FLAGS = ("--jitless", "--no-expose-wasm", "--v8-pool-size=1")
NODE_ENV = SANDBOX_ENV | {"MALLOC_ARENA_MAX": "1", "UV_THREADPOOL_SIZE": "1", "NODE_DISABLE_COLORS": "1"}
NODE_SCRIPT = f"{WORK_DIR}/hermes.js"


class SandboxUnavailable(RuntimeError):
    """No working bubblewrap here; the caller must skip running code, and say so."""


@dataclass(frozen=True)
class RunResult:
    """How one sandboxed run ended. `stdout` and `stderr` are the tails of each."""

    ok: bool  # exited with status 0 within the time limit
    returncode: int | None  # None when the run was killed for its time limit
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float


@dataclass(frozen=True)
class SandboxStatus:
    available: bool
    reason: str  # why not, in words a user can act on; "" when available


def python_executable() -> Path:
    """The real interpreter behind `sys.executable` (a venv's python is a symlink)."""
    return Path(sys.executable).resolve()


def run_python(code: str, timeout_s: float, memory_mb: int) -> RunResult:
    """Run `code` with the real interpreter inside bubblewrap; block until it ends.

    Raises SandboxUnavailable when bubblewrap is missing or cannot create a
    sandbox here. `timeout_s` is wall-clock time; `memory_mb` caps the
    address space (RLIMIT_AS) of everything inside the sandbox.
    """
    status = sandbox_status()
    if not status.available:
        raise SandboxUnavailable(status.reason)
    return _run(code, timeout_s, memory_mb)


def run_node(code: str, timeout_s: float, memory_mb: int) -> RunResult:
    """Run JavaScript `code` with Node inside bubblewrap, under `run_python`'s limits.

    Raises SandboxUnavailable when there is no node, or no working sandbox.
    """
    status = node_status()
    if not status.available:
        raise SandboxUnavailable(status.reason)
    return _run(node_launcher(code), timeout_s, memory_mb)


def node_launcher(code: str) -> str:
    """A Python program for `run_python` that becomes Node running `code` (exec, not a child).

    The scorer hands every plan to `run_python`; this is how a JavaScript plan
    goes the same way, into the same sandbox.
    """
    node = node_executable()
    argv = [str(node), *NODE_FLAGS, NODE_SCRIPT]
    return (f"import os\nwith open({NODE_SCRIPT!r}, 'w', encoding='utf-8') as f:\n    f.write({code!r})\n"
            f"os.execve({str(node)!r}, {argv!r}, {NODE_ENV!r})\n")


def node_executable() -> Path | None:
    """The real `node` on PATH (resolved through symlinks), or None."""
    found = shutil.which("node")
    return Path(found).resolve() if found else None


@functools.cache
def node_status() -> SandboxStatus:
    """Whether Node runs in the sandbox here, and if not, why; cached for the process."""
    if node_executable() is None:
        return SandboxStatus(False, "no node on this machine: JavaScript examples cannot run")
    status = sandbox_status()
    if not status.available:
        return status
    probe = _run(node_launcher("console.log(6 * 7)"), timeout_s=30, memory_mb=256)
    if probe.ok and probe.stdout.strip() == "42":
        return SandboxStatus(True, "")
    why = probe.stderr.strip().splitlines()[-1:] or [f"exit status {probe.returncode}"]
    return SandboxStatus(False, f"node cannot run in the sandbox here: {why[0]}")


def sandbox_available() -> bool:
    """True when `run_python` can run code here (checked once, by running some)."""
    return sandbox_status().available


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Whether bubblewrap works here, and if not, why; cached for the process."""
    if shutil.which("bwrap") is None:
        return SandboxStatus(False, "no sandbox (bubblewrap) on this machine")
    try:
        probe = _run("print(6 * 7)", timeout_s=30, memory_mb=256)
    except OSError as exc:
        return SandboxStatus(False, f"bubblewrap cannot start here: {exc}")
    if probe.ok and probe.stdout.strip() == "42":
        return SandboxStatus(True, "")
    why = probe.stderr.strip().splitlines()[-1:] or [f"exit status {probe.returncode}"]
    return SandboxStatus(False, f"bubblewrap cannot create a sandbox here: {why[0]}")


def _run(code: str, timeout_s: float, memory_mb: int) -> RunResult:
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            _bwrap_command(),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=SANDBOX_ENV,
            preexec_fn=functools.partial(_limit, memory_mb, timeout_s),
            start_new_session=True,  # its own process group, killed as one on timeout
        )
        timed_out = False
        try:
            process.communicate(code.encode("utf-8", "replace"), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            process.wait()
        return RunResult(
            ok=not timed_out and process.returncode == 0,
            returncode=None if timed_out else process.returncode,
            stdout=_tail(out),
            stderr=_tail(err),
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
        )


def _bwrap_command() -> list[str]:
    python = python_executable()
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    for path in ETC_FILES:
        if os.path.isfile(path):
            command += ["--ro-bind", path, path]
    for path in _install_dirs(python, node_executable()):
        command += ["--ro-bind", str(path), str(path)]
    command += ["--proc", "/proc", "--dev", "/dev"]
    command += ["--size", str(TMPFS_BYTES), "--tmpfs", WORK_DIR]
    command += ["--size", str(TMPFS_BYTES), "--tmpfs", HOME_DIR]
    # The sandbox's own root is a tmpfs without a size limit: make it read-only too.
    command += ["--remount-ro", "/", "--chdir", WORK_DIR, str(python), "-I", "-B", "-"]
    return command


def _install_dirs(python: Path, node: Path | None) -> list[Path]:
    """The interpreter's installation (prefix and bin dir), and node's (nvm's bin/..), outside /usr."""
    candidates = {Path(sys.base_prefix).resolve(), Path(sys.base_exec_prefix).resolve(), python.parent}
    if node is not None:
        candidates.add(node.parent.parent)
    inside_system = [c for c in candidates if any(c.is_relative_to(p) for p in SYSTEM_PATHS)]
    dirs = sorted(c for c in candidates if c not in inside_system)
    # A parent already bound covers its children.
    return [d for d in dirs if not any(d != other and d.is_relative_to(other) for other in dirs)]


def _limit(memory_mb: int, timeout_s: float) -> None:
    # Runs in the child between fork and exec, so the limits bind bwrap and all it starts.
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # CPU time as a second guard should the wall-clock kill ever miss.
    cpu_s = int(timeout_s) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(stream: BinaryIO) -> str:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(max(0, size - TAIL_CHARS * 4))
    return stream.read().decode("utf-8", "replace")[-TAIL_CHARS:]
