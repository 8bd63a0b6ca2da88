"""Stop work nobody will read: notice when an HTTP client goes away (chat and autocomplete alike).

The embedded model generates in a worker thread, token by token, one
request at a time. A client that leaves must not keep it busy (the next
request would queue behind an answer no one reads), so its generation
checks a `threading.Event` between tokens, and these helpers set it when
the ASGI `receive` says `http.disconnect` or a streamed send fails.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from proxy.errors import ClientClosed

T = TypeVar("T")


async def collect_unless_disconnected(
    receive: Receive, items: AsyncIterator[T], cancel: threading.Event
) -> list[T] | None:
    """Every item of `items`, or None (and `cancel` set) if the client leaves first.

    Call it once the request body has been read: `receive` then has nothing
    left to give but the disconnect.
    """
    collected: list[T] = []
    async with anyio.create_task_group() as group:

        async def gather() -> None:
            collected.extend([item async for item in items])
            group.cancel_scope.cancel()

        group.start_soon(gather)
        await _until_disconnected(receive)
        cancel.set()
        group.cancel_scope.cancel()  # stops a request still queued for the model at once
        return None
    return collected


class CancellingStreamingResponse(StreamingResponse):
    """A StreamingResponse that sets `cancel` when its client goes away.

    Starlette stops listening for the disconnect under ASGI spec 2.4 and
    relies on `send` raising, which a server may not do; this listens itself,
    and closes the body iterator on every path so whatever it holds (the
    model's lock) is released now rather than when it is garbage-collected.
    """

    def __init__(self, content: AsyncIterator[Any], cancel: threading.Event, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.cancel = cancel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def listen() -> None:
                    await _until_disconnected(receive)
                    self.cancel.set()

                group.start_soon(listen)
                try:
                    await self.stream_response(send)
                except OSError:  # the client is gone; nothing more can reach it
                    pass
                group.cancel_scope.cancel()
        finally:
            self.cancel.set()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if self.background is not None:
            await self.background()


class ListeningStreamingResponse(StreamingResponse):
    """A StreamingResponse whose body is cancelled when its client goes away, with no task group.

    Starlette streams in a task of its own, in an anyio task group beside a
    listener, under the ASGI spec uvicorn speaks (2.3): a task and a trip round
    the event loop before the first byte, and cancel scopes around every chunk.
    Here the body streams in the request's own task, and a watcher cancels it
    when `receive` says `http.disconnect`; the body's `finally` then ends the
    upstream call and settles it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.current_task()
        assert streaming is not None
        left = False

        async def watch() -> None:
            nonlocal left
            await _until_disconnected(receive)
            left = True
            streaming.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.stream_response(send)
        except OSError:  # the client is gone; nothing more can reach it
            pass
        except asyncio.CancelledError:
            if not left or streaming.uncancel() > 0:
                raise  # cancelled from outside, not by the watcher
        finally:
            watcher.cancel()
        if self.background is not None:
            await self.background()


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(request: Request, work: Coroutine[Any, Any, Response]) -> Response:
    """Await `work`, cancelled if the client disconnects first (then ClientClosed).

    Starlette would go on with a request whose client has gone: the local
    model would keep generating an answer nobody reads, and the next request
    would queue behind it. The request body has been read, so the next ASGI
    message can only be the disconnect.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    watcher.add_done_callback(lambda _: task.cancel())  # a no-op once the work is done
    try:
        # Awaiting the task itself: if this request is cancelled, the task is too, and this
        # waits for it to end (its money is settled on the way out).
        return await task  # the answer, or the error it raised
    except asyncio.CancelledError:
        if task.cancelled() and watcher.done() and not watcher.cancelled():
            raise ClientClosed("The client closed the connection before the answer was ready.") from None
        raise
    finally:
        watcher.cancel()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
