"""API keys: who a request is, and so whose budget a cloud call draws on.

Two kinds of key, both sent as `Authorization: Bearer <key>`:

- HERMES_API_KEY, the operator's: the API, the dashboard and the models,
  drawing on the global budget alone;
- team keys, made by `hermes keys create --name alice --daily-limit 2.00`:
  the models (/v1) only, each drawing on its own daily limit within the
  global one. They are stored only as SHA-256 hashes; the key itself is
  shown once, when it is made.

Without HERMES_API_KEY and without any team key, nothing is asked of
anyone (a single user on loopback). Once a team key is in use, every /v1
request must carry a key: otherwise its spend would be no one's
(key_auth.py checks them).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "hk-"


@dataclass(frozen=True)
class ApiKey:
    """A team key a request presented: its budget is checked on every reservation (budget.py)."""

    id: int
    name: str
    daily_limit_usd: float | None


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
