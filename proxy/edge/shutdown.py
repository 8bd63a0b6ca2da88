"""Stopping on SIGTERM or Ctrl-C: streams still running end with an error event, not a cut connection.

uvicorn, told to stop, waits `timeout_graceful_shutdown` (5 s) for responses
to end, then cancels them: a client reading a stream sees its connection
drop mid-answer, with nothing saying why, and the call's money is settled as
if its client had left. So when the signal comes, Hermes gives the streams
still running `GRACE_S` to end, then ends each with an error event in its
client's dialect ("Hermes is shutting down"), closes the upstream call, and
charges its reservation until the next start asks OpenRouter what the
generation really cost (money/reconcile.py), as after a crash.

Signals can be listened to only from the main thread, which is where uvicorn
serves; in tests that serve from another thread this does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from proxy.errors import ShuttingDown
from proxy.pipeline.unseen import InFlight

# Under uvicorn's 5 s of graceful shutdown, so each stream ends with its error event before uvicorn cancels it.
GRACE_S = 4.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def shutting_down() -> ShuttingDown:
    return ShuttingDown("Hermes is shutting down and cut this answer short; send the request again once it is "
                        "back. Its cost is reconciled with OpenRouter's record at the next start.")


@contextlib.contextmanager
def cut_streams_on_exit(in_flight: InFlight, grace_s: float = GRACE_S) -> Iterator[None]:
    """While inside: on SIGTERM or SIGINT, cut the streams still running `grace_s` later, then let uvicorn stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def on_signal(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(loop.call_later, grace_s, lambda: in_flight.cut_all(shutting_down()))
        handler: Any = previous[sig]
        if callable(handler):
            handler(sig, frame)  # uvicorn's: it begins its graceful shutdown
        else:  # the default (or ignore) it would have had
            signal.signal(sig, handler)
            signal.raise_signal(sig)

    for sig in SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
