"""The sandbox runs code, and contains it: no network, no writes outside its tmp dir, time and memory limits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from proxy.judgment.sandbox import python_executable, run_python, sandbox_available, sandbox_status

pytestmark = pytest.mark.skipif(
    not sandbox_available(), reason=f"no working sandbox here: {sandbox_status().reason}"
)


def test_runs_code_and_returns_its_output() -> None:
    result = run_python("import sys\nprint(sum(range(10)))\nprint('oops', file=sys.stderr)", 10, 256)

    assert result.ok and result.returncode == 0 and not result.timed_out
    assert result.stdout == "45\n"
    assert result.stderr == "oops\n"


def test_a_failing_program_is_not_ok() -> None:
    result = run_python("raise ValueError('bad input')", 10, 256)

    assert not result.ok
    assert result.returncode == 1
    assert "ValueError: bad input" in result.stderr


def test_uses_the_real_interpreter_with_its_standard_library() -> None:
    result = run_python("import sys, json, decimal\nprint(sys.executable)", 10, 256)

    assert result.stdout.strip() == str(python_executable())


@pytest.mark.parametrize("address", [pytest.param("127.0.0.1", id="loopback"), pytest.param("1.1.1.1", id="internet")])
def test_has_no_network(address: str) -> None:
    code = f"import socket\nsocket.create_connection(({address!r}, 80), timeout=2)\nprint('connected')"

    result = run_python(code, 10, 256)

    assert not result.ok
    assert "connected" not in result.stdout
    assert "OSError" in result.stderr or "Error" in result.stderr.splitlines()[-1]


def test_cannot_write_outside_its_tmp_dir(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    code = (
        "import os\n"
        "open('/tmp/scratch.txt', 'w').write('fine')\n"
        "print(os.getcwd(), open('/tmp/scratch.txt').read())\n"
        f"open({str(target)!r}, 'w').write('escaped')\n"
    )

    result = run_python(code, 10, 256)

    assert result.stdout.startswith("/tmp fine")
    assert not result.ok
    assert not target.exists()


def test_sees_nothing_of_the_home_directory_but_the_python_installation() -> None:
    home = Path.home()
    code = (
        "import json, os\n"
        f"home = {str(home)!r}\n"
        "print(json.dumps(sorted(os.listdir(home)) if os.path.isdir(home) else []))\n"
        "open(os.path.join(home, 'planted.txt'), 'w')\n"
    )

    result = run_python(code, 10, 256)

    # Only the path down to the interpreter's prefix is bound (pyenv keeps it under ~/.pyenv).
    prefix = python_executable().parent.parent
    allowed = {prefix.relative_to(home).parts[0]} if prefix.is_relative_to(home) else set()
    assert set(json.loads(result.stdout)) <= allowed
    assert not result.ok
    assert not (home / "planted.txt").exists()


def test_the_system_is_read_only() -> None:
    result = run_python("open('/usr/hermes-was-here', 'w')", 10, 256)

    assert not result.ok
    assert "Read-only file system" in result.stderr or "PermissionError" in result.stderr


def test_timeout_kills_an_infinite_loop() -> None:
    started = time.monotonic()

    result = run_python("while True:\n    pass", 1.0, 256)

    assert result.timed_out and not result.ok
    assert result.returncode is None
    assert time.monotonic() - started < 5


def test_memory_limit_stops_a_huge_allocation() -> None:
    result = run_python("block = bytearray(2 * 1024 ** 3)\nprint('allocated')", 10, 128)

    assert not result.ok
    assert "MemoryError" in result.stderr
    assert "allocated" not in result.stdout


def test_output_is_cut_to_its_tail() -> None:
    result = run_python("for i in range(100000):\n    print(i)", 10, 256)

    assert result.ok
    assert result.stdout.endswith("99999\n")
    assert len(result.stdout) <= 4000
