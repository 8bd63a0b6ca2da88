"""A streamed `auto` answer that starts at once, whatever the cascade does.

The local cascade can take many seconds (a CPU model reads the prompt,
answers, is scored) before Hermes knows where the answer comes from. A
client that sees nothing for that long gives up, and a person thinks it hung.
So the 200 and the SSE headers go out at once, SSE comment lines say what
the cascade is doing while it works (`: hermes: smollm2:135m generating`;
every SSE client ignores lines that start with a colon), then the answer
streams as any other, its verdict in the final chunk's "hermes" field.

The headers sent up front are only those known before the verdict:
X-Hermes-Task-Type, X-Hermes-Tier, X-Hermes-Budget-Remaining-USD (before this
call) and X-Hermes-Session-Id. The route, model, quality, cost and upgrade
offer exist only once the cascade has decided; they ride in "hermes".
A failure after the 200 (the cascade found no answer, the budget refused
the upgrade) is an SSE error event, as for any stream that fails mid-way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from proxy.errors import ClientClosed, HermesError
from proxy.money.budget import BudgetStatus
from proxy.pipeline.services import Request, Services
from proxy.pipeline.steps import Cascade, open_stream, record_failure, run_cascade

log = logging.getLogger("hermes")

# How often a comment line is sent while nothing else happens: well inside
# the idle timeouts of clients and of proxies in between (often 30-60 s).
KEEPALIVE_S = 5.0
INTERNAL_ERROR = HermesError("Hermes hit an internal error; the details are in its log.", code="internal_error")


def early_response(services: Services, request: Request, pending: Cascade, status: BudgetStatus) -> StreamingResponse:
    headers = {
        "cache-control": "no-cache",
        "X-Hermes-Task-Type": request.task.header(),
        "X-Hermes-Tier": status.tier_name,
        "X-Hermes-Budget-Remaining-USD": f"{status.remaining_usd:.6f}",
        "X-Hermes-Session-Id": request.conversation.session_id,
    }
    return StreamingResponse(_body(services, request, pending), media_type="text/event-stream", headers=headers)


def comment(status: str) -> bytes:
    """One SSE comment line: `: hermes: <status>`, on one line whatever `status` holds."""
    return b": hermes: " + " ".join(status.split()).encode() + b"\n\n"


async def _body(services: Services, request: Request, pending: Cascade) -> AsyncIterator[bytes]:
    yield comment("working")
    statuses: asyncio.Queue[str] = asyncio.Queue()
    cascade = asyncio.ensure_future(run_cascade(services, request, pending, statuses.put_nowait))
    try:
        async for status in _while_running(cascade, statuses):
            yield comment(status)
        chosen = cascade.result()  # raises what the cascade raised
        chunks, settle, _ = await open_stream(services, request, chosen)
    except HermesError as error:
        await _record(services, request, error)
        yield request.dialect.error_event(error)
        return
    except Exception:
        log.exception("unexpected error in a streamed auto request")
        await _record(services, request, INTERNAL_ERROR)
        yield request.dialect.error_event(INTERNAL_ERROR)
        return
    except BaseException:  # the client went away while the cascade worked
        await _record(services, request, ClientClosed("The client closed the connection before the answer was ready."))
        raise
    finally:
        if not cascade.done():
            cascade.cancel()  # stop the local model: nobody will read its answer
            await asyncio.wait({cascade})
    async for event in request.dialect.stream(chunks, request.chat.include_usage, settle):
        yield event


async def _while_running(cascade: asyncio.Future[object], statuses: asyncio.Queue[str]) -> AsyncIterator[str]:
    """The cascade's statuses as they come, and the last one again every KEEPALIVE_S of silence."""
    last, since = "working", time.monotonic()
    while not cascade.done():
        waiting = asyncio.ensure_future(statuses.get())
        done, _ = await asyncio.wait({cascade, waiting}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            last, since = waiting.result(), time.monotonic()
            yield last
            continue
        waiting.cancel()
        if not cascade.done():
            yield f"{last} ({time.monotonic() - since:.0f}s)"


async def _record(services: Services, request: Request, error: HermesError) -> None:
    await services.store.run_to_end(record_failure(services, error, request.started, request=request))
