"""A cloud call whose client leaves is read to its end: the upstream bills it all the same.

Closing the connection to OpenRouter does not take back what it has already
sent to the provider, and the bill (`usage.cost`) comes only with the end of
the answer. So when the client of a cloud call goes away, whether before the
first byte or mid-stream, the call goes on in the background, unseen, to its
end (within the relay's own timeouts, and at most `UNSEEN_READ_S`); its usage
then settles the reservation to the real bill, and its generation id is on
the ledger. Local calls are not passed through here: they cost nothing, and
the model is wanted by the next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

from proxy.errors import HermesError

T = TypeVar("T")
Spawn = Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]
log = logging.getLogger("hermes")

# How long an abandoned call may run on unseen. Longer than any answer the
# relay waits for in practice; a silence is cut sooner by its own timeout.
UNSEEN_READ_S = 600.0


class InFlight:
    """The cloud streams being relayed now: what a shutdown cuts short (edge/shutdown.py)."""

    def __init__(self) -> None:
        self._pumps: set[_Pump] = set()

    def add(self, pump: _Pump) -> None:
        self._pumps.add(pump)

    def discard(self, pump: _Pump) -> None:
        self._pumps.discard(pump)

    def cut_all(self, error: HermesError) -> int:
        """End every stream still running with `error` (its client gets it as an error event); how many."""
        pumps, self._pumps = self._pumps, set()
        for pump in pumps:
            pump.cut(error)
        if pumps:
            log.warning("Cut %d cloud stream(s) still running at shutdown; each is charged its reservation until "
                        "the next start asks OpenRouter what it cost", len(pumps))
        return len(pumps)


class Unseen:
    """The rest of one cloud call that nobody reads any more, once it is left; its usage at the end."""

    def __init__(self, spawn: Spawn, in_flight: InFlight | None = None) -> None:
        self._spawn = spawn
        self._in_flight = in_flight
        self._rest: asyncio.Task[dict[str, Any] | None] | None = None

    @property
    def left(self) -> bool:
        """Whether the client left while the call was in flight (and its rest is being read)."""
        return self._rest is not None

    async def usage(self) -> dict[str, Any] | None:
        """The usage the upstream reported at the end of the unseen rest; None if it never did."""
        return None if self._rest is None else await asyncio.shield(self._rest)

    async def answer(self, call: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
        """Await a non-streamed call; if the caller is cancelled meanwhile, it goes on to its end."""
        task = self._spawn(call)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._rest = self._spawn(_bounded(_usage_of(task)))
            raise

    async def opened(self, call: Coroutine[Any, Any, AsyncIterator[dict[str, Any]]]
                     ) -> AsyncIterator[dict[str, Any]]:
        """Await a stream's opening; `chunks` of it if all goes well, else as `answer` does."""
        task = self._spawn(call)
        try:
            chunks = await asyncio.shield(task)
        except asyncio.CancelledError:
            self._rest = self._spawn(_bounded(_rest_of(task)))
            raise
        return self._relayed(chunks)

    async def _relayed(self, chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        """`chunks`, read by a task of their own: a client that leaves cancels only the wait for the next
        one, and the reading goes on to the end, unseen."""
        pump = _Pump(chunks)
        pump.reading = reading = self._spawn(pump.run())
        if self._in_flight is not None:
            self._in_flight.add(pump)
        try:
            while (chunk := await pump.next()) is not None:
                yield chunk
        finally:
            if self._in_flight is not None:
                self._in_flight.discard(pump)
            if not pump.ended:  # the client left
                pump.unseen = True  # what comes next is not kept for anyone
                self._rest = self._spawn(_bounded(_usage_of(reading)))


class _Pump:
    """Reads a stream into a queue; `next` gives each chunk, None at the end, or raises what the stream raised."""

    def __init__(self, chunks: AsyncIterator[dict[str, Any]]) -> None:
        self._chunks = chunks
        self._queue: asyncio.Queue[dict[str, Any] | BaseException | None] = asyncio.Queue()
        self.unseen = False
        self.ended = False  # `next` has given the end, or the stream's error
        self.reading: asyncio.Task[dict[str, Any]] | None = None

    def cut(self, error: HermesError) -> None:
        """Stop reading (closing the upstream call) and end the stream with `error`."""
        self._queue.put_nowait(error)
        if self.reading is not None:
            self.reading.cancel()

    async def run(self) -> dict[str, Any]:
        """Read to the end; {"usage": the last usage seen} (as an answer carries it)."""
        usage = None
        try:
            async with aclosing(self._chunks):  # type: ignore[type-var]
                async for chunk in self._chunks:
                    if chunk.get("usage") is not None:
                        usage = chunk["usage"]
                    if not self.unseen:
                        self._queue.put_nowait(chunk)
        except asyncio.CancelledError:  # cut: `cut` has told the reader
            raise
        except BaseException as exc:
            self._queue.put_nowait(exc)
            raise
        self._queue.put_nowait(None)
        return {"usage": usage}

    async def next(self) -> dict[str, Any] | None:
        item = await self._queue.get()
        self.ended = item is None or isinstance(item, BaseException)
        if isinstance(item, BaseException):
            raise item
        return item


async def _bounded(work: Coroutine[Any, Any, dict[str, Any] | None]) -> dict[str, Any] | None:
    try:
        async with asyncio.timeout(UNSEEN_READ_S):
            return await work
    except (HermesError, TimeoutError) as exc:
        log.info("A call its client left ended without a bill (%s): it stays charged at its worst case", exc)
        return None


async def _usage_of(call: asyncio.Task[dict[str, Any]]) -> dict[str, Any] | None:
    return (await call).get("usage")


async def _rest_of(opening: asyncio.Task[AsyncIterator[dict[str, Any]]]) -> dict[str, Any] | None:
    pump = _Pump(await opening)
    pump.unseen = True
    return (await pump.run())["usage"]
