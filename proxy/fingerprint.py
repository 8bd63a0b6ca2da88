"""Fingerprints of a conversation's messages: what the token-count cache and the prompt hash are keyed by.

An agent resends its whole history every turn (OpenCode's is 135 KB by the
middle of a task), so a request's messages are fingerprinted once
(`ChatRequest.fingerprints`) and every later step reuses the fingerprints.
XXH3, not a cryptographic digest: 1 us over 135 KB where SHA-256 took 66 us,
and a collision would cost an estimate or a dashboard grouping, never a
charge. Writing each message out (marshal) is most of the cost.
"""

from __future__ import annotations

import json
import marshal
import struct
from collections.abc import Iterable
from typing import Any

import xxhash

Fingerprint = tuple[int, int]  # (bytes the value is written in, XXH3-64 of them)
_PAIR = struct.Struct("<QQ")


def fingerprint(value: Any) -> Fingerprint:
    """`value` (JSON-like) written out and hashed: equal values in the same key order give equal fingerprints."""
    try:
        # marshal is several times faster than json here; version 2 writes no
        # back-references, so equal values (in the same key order) give equal bytes.
        spelled = marshal.dumps(value, 2)
    except ValueError:  # not a JSON-like value
        spelled = json.dumps(value, default=repr).encode()
    return len(spelled), xxhash.xxh3_64_intdigest(spelled)


def conversation_hash(fingerprints: Iterable[Fingerprint]) -> str:
    """The messages' fingerprints as one XXH3-128 hex digest: the same messages, in order, give the same one."""
    return xxhash.xxh3_128_hexdigest(b"".join(_PAIR.pack(*pair) for pair in fingerprints))
