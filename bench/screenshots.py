"""Refresh the dashboard's screenshots in docs/ from real Chromium.

    .venv/bin/python bench/screenshots.py

Runs the dashboard's browser tests (tests/edge/test_dashboard_page.py) with
DOCS_SCREENSHOTS=1, so each writes the picture it checked: docs/dashboard.png
(two weeks of history, then real requests), docs/dashboard-detail.png (a
request opened: its cascade and decision), docs/dashboard-offline.png
(no key: how to open it), and docs/dashboard-390.png and docs/dashboard-1400.png
(a phone's width and a wide screen). An ordinary test run takes the same pictures in a
temp dir and leaves docs/ alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = ("test_dashboard_screenshot_with_two_weeks_of_history or test_dashboard_opens_a_request "
         "or test_dashboard_without_the_key or test_the_charts_fit_the_screen")


def main() -> int:
    env = os.environ | {"DOCS_SCREENSHOTS": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    command = [sys.executable, "-m", "pytest", "tests/edge/test_dashboard_page.py", "-q", "-p", "no:cacheprovider",
               "-k", TESTS]
    result = subprocess.run(command, cwd=REPO, env=env, check=False)
    if result.returncode == 0:
        for name in ("dashboard.png", "dashboard-detail.png", "dashboard-offline.png", "dashboard-390.png",
                     "dashboard-1400.png"):
            print(f"docs/{name}: {(REPO / 'docs' / name).stat().st_size} bytes")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
