"""The store: every SQL statement Hermes makes, on either backend (database.py).

Every write is a unit of transactions.py: one transaction that a cancelled
request never splits, joined by the writes called inside it. The SQL is
written once, in what SQLite and PostgreSQL both speak. Prompts are stored
only when `server.store_prompts` is on; otherwise a hash and token counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from proxy.fingerprint import conversation_hash, fingerprint
from proxy.storage.backends import open_database
from proxy.storage.database import Database
from proxy.storage.owner import is_gone, this_process
from proxy.storage.retention import RetentionRecords
from proxy.storage.store_catalogue import CatalogueRecords
from proxy.storage.store_keys import KeyRecords
from proxy.storage.store_prices import PriceRecords
from proxy.storage.store_sessions import SessionRecords

# The note on a reservation charged at its worst case because its process died mid-call.
UNKNOWN_OUTCOME = "outcome unknown: its process ended mid-call"
# ... because its call was cut off (a timeout, a shutdown, a stream that ended without its usage).
USAGE_UNKNOWN = "usage unknown: charged the reservation"
# Both are worst cases that OpenRouter's record of the generation can replace (reconcile.py).
_WORST_CASES = f"('{UNKNOWN_OUTCOME}', '{USAGE_UNKNOWN}')"


@dataclass(frozen=True)
class Learned:
    """What real responses showed for one (task type, model)."""

    samples: int
    mean_output_tokens: float
    variance: float


@dataclass(frozen=True)
class TaskRecord:
    """One chat request as it ended."""

    requested_model: str
    route: str | None
    model: str | None
    stream: bool
    status: int
    error_code: str | None
    messages: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    task_type: str | None = None
    session_id: str | None = None
    hermes: dict[str, Any] | None = None  # the response's "hermes" field: the dashboard's detail view
    saved_usd: float | None = None  # a local answer's avoided cloud cost (savings.py); None: nothing was avoided
    cache_read_tokens: int = 0  # of input_tokens, read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens, written to it
    prompt_hash: str | None = None  # ChatRequest.prompt_hash, taken already; None: from `messages`


@dataclass(frozen=True)
class Prediction:
    """A cloud call's cost as predicted before it and as it turned out."""

    task_type: str
    model: str
    input_tokens: int
    predicted_output_tokens: int
    actual_output_tokens: int
    predicted_cost_usd: float
    actual_cost_usd: float
    confidence: float


class Store(SessionRecords, KeyRecords, PriceRecords, CatalogueRecords, RetentionRecords):
    """Hermes's records on one database, opened and migrated in the app's lifespan.

    Sessions (store_sessions.py), team keys (store_keys.py), stale prices (store_prices.py), the catalogue
    (store_catalogue.py) and retention (retention.py) have modules of their own.
    """

    def __init__(self, db: Database, store_prompts: bool = False, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(db, clock)
        self._store_prompts = store_prompts

    @classmethod
    async def open(cls, location: str | Path, store_prompts: bool = False,
                   clock: Callable[[], datetime] | None = None) -> Store:
        """The store at `location`: a postgresql:// URL, or a SQLite file's path; `clock` stamps its rows."""
        return cls(await open_database(location), store_prompts, clock)

    async def close(self) -> None:
        await self._db.close()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    # -- tasks ---------------------------------------------------------------

    async def record_task(self, task: TaskRecord) -> None:
        await self._write(
            """
            INSERT INTO tasks (created_at, requested_model, route, model, stream, status, error_code,
                               prompt_hash, prompt, input_tokens, output_tokens, cost_usd, latency_ms, task_type,
                               session_id, hermes, saved_usd, cache_read_tokens, cache_write_tokens)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                self.now(), task.requested_model, task.route, task.model, int(task.stream), task.status,
                task.error_code, task.prompt_hash or prompt_hash(task.messages),
                json.dumps(task.messages) if self._store_prompts else None,
                task.input_tokens, task.output_tokens, task.cost_usd, task.latency_ms, task.task_type,
                task.session_id, None if task.hermes is None else _json_text(task.hermes), task.saved_usd,
                task.cache_read_tokens, task.cache_write_tokens,
            ),
        )

    async def recent_tasks(self, limit: int = 50) -> list[dict[str, Any]]:
        return await self.rows("SELECT * FROM tasks ORDER BY id DESC LIMIT ?", (limit,))

    # -- ledger --------------------------------------------------------------

    async def day_totals(self, day: str) -> tuple[float, float]:
        """(charged, held) USD for `day`: the total its triggers keep (m006), and the calls in flight."""
        [row] = await self._db.fetch(
            """
            SELECT COALESCE((SELECT charged_usd FROM day_totals WHERE day = ?), 0) AS charged,
                   COALESCE((SELECT SUM(reserved_usd) FROM ledger WHERE day = ? AND state = 'held'), 0) AS held
            """,
            (day, day),
        )
        return float(row["charged"]), float(row["held"])

    async def lock_budget(self) -> None:
        """Inside `atomic`, before reading the day's spend: other processes' reservations wait for this one."""
        await self._db.lock_budget()

    async def insert_reservation(self, day: str, model: str, reserved_usd: float, key_id: int | None = None) -> int:
        """Hold `reserved_usd` for this process (and `key_id`'s budget); inside `atomic`, after checking the room."""
        return await self._db.insert(
            """INSERT INTO ledger (day, created_at, model, state, reserved_usd, owner, key_id)
               VALUES (?, ?, ?, 'held', ?, ?, ?)""",
            (day, self.now(), model, reserved_usd, this_process(), key_id),
        )

    async def key_day_spend(self, day: str, key_id: int) -> float:
        """What `key_id` has charged and holds on `day`."""
        [row] = await self._db.fetch(
            """SELECT COALESCE(SUM(CASE WHEN state = 'charged' THEN cost_usd ELSE reserved_usd END), 0) AS spent
               FROM ledger WHERE key_id = ? AND day = ? AND state != 'released'""", (key_id, day))
        return float(row["spent"])

    async def settle_reservation(self, reservation_id: int, cost_usd: float | None, *,
                                 reported_usd: float | None = None, note: str | None = None) -> None:
        """Replace a held reservation by its cost, or release it (`cost_usd` None); only once."""
        state = "released" if cost_usd is None else "charged"
        await self._write(
            """UPDATE ledger SET state = ?, cost_usd = ?, settled_at = ?, reported_cost_usd = ?, note = ?
               WHERE id = ? AND state = 'held'""",
            (state, cost_usd or 0.0, self.now(), reported_usd, note, reservation_id),
        )

    async def note_generation(self, reservation_id: int, generation_id: str) -> None:
        """The upstream's id for a call in flight: if this process dies, its cost can still be looked up."""
        await self._write("UPDATE ledger SET generation_id = ? WHERE id = ? AND state = 'held'",
                          (generation_id, reservation_id))

    async def unknown_outcomes(self) -> list[dict[str, Any]]:
        """Calls charged at their worst case (a crash, a cut) that the upstream may still tell the cost of."""
        return await self.rows(
            f"""SELECT id, generation_id, reserved_usd FROM ledger
                WHERE note IN {_WORST_CASES} AND generation_id IS NOT NULL""", ())

    async def reconcile(self, reservation_id: int, cost_usd: float, reported_usd: float) -> None:
        """Replace a worst-case charge by what the upstream says the call cost."""
        await self._write(
            f"""UPDATE ledger SET cost_usd = ?, reported_cost_usd = ?,
                note = 'outcome unknown, then reconciled with the upstream''s record'
                WHERE id = ? AND note IN {_WORST_CASES}""",
            (cost_usd, reported_usd, reservation_id))

    async def charge_abandoned_reservations(self) -> int:
        """Charge, at their reserved worst case, the reservations of processes that ended mid-call.

        Whether the upstream served those calls is unknown, so they count as
        spent, never as free. Reservations of processes still running (another
        `hermes serve` on this file) are left alone.
        """
        async def charge() -> int:
            held = await self._db.fetch("SELECT id, owner FROM ledger WHERE state = 'held'")
            seen = {row["owner"]: row["seen_at"] for row in await self._db.fetch("SELECT owner, seen_at FROM replicas")}
            gone = [row["id"] for row in held if is_gone(row["owner"], seen.get(row["owner"]))]
            for reservation_id in gone:
                await self._db.execute(
                    f"""UPDATE ledger SET state = 'charged', cost_usd = reserved_usd, settled_at = ?,
                       note = '{UNKNOWN_OUTCOME}' WHERE id = ? AND state = 'held'""",
                    (self.now(), reservation_id))
            return len(gone)

        return await self.atomic(charge)

    async def heartbeat(self) -> None:
        """Note that this process is alive: replicas on other hosts leave its reservations alone (owner.py)."""
        await self._write("""INSERT INTO replicas (owner, seen_at) VALUES (?, ?)
                             ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at""", (this_process(), self.now()))

    async def spend_by_model(self, day: str) -> list[dict[str, Any]]:
        return await self.rows(
            """
            SELECT model, CAST(SUM(calls) AS BIGINT) AS calls, SUM(cost_usd) AS cost_usd FROM (
                SELECT model, COUNT(*) AS calls, SUM(cost_usd) AS cost_usd FROM ledger
                WHERE day = ? AND state = 'charged' GROUP BY model
                UNION ALL SELECT model, calls, cost_usd FROM ledger_days WHERE day = ?) AS charged
            GROUP BY model ORDER BY cost_usd DESC
            """,
            (day, day),
        )

    # -- estimates and predictions ---------------------------------------------

    async def learned(self, task_type: str, model: str) -> Learned | None:
        rows = await self._db.fetch(
            "SELECT samples, mean_output_tokens, variance FROM estimates WHERE task_type = ? AND model = ?",
            (task_type, model),
        )
        return Learned(**rows[0]) if rows else None

    async def input_ratio(self, model: str) -> tuple[int, float] | None:
        """(samples, ratio): how many input tokens `model`'s provider bills per token Hermes counts, or None."""
        rows = await self._db.fetch("SELECT samples, ratio FROM input_counts WHERE model = ?", (model,))
        return (int(rows[0]["samples"]), float(rows[0]["ratio"])) if rows else None

    async def put_input_ratio(self, model: str, samples: int, ratio: float) -> None:
        """Store what `input_ratio` reads; inside `atomic`, after reading the old one."""
        await self._db.execute(
            """INSERT INTO input_counts (model, samples, ratio) VALUES (?, ?, ?)
               ON CONFLICT (model) DO UPDATE SET samples = excluded.samples, ratio = excluded.ratio""",
            (model, samples, ratio))

    async def put_learned(self, task_type: str, model: str, learned: Learned) -> None:
        """Store an estimate; call inside `atomic` (it follows a read of the old one)."""
        await self._db.execute(
            """
            INSERT INTO estimates (task_type, model, samples, mean_output_tokens, variance, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (task_type, model) DO UPDATE SET samples = excluded.samples,
                mean_output_tokens = excluded.mean_output_tokens, variance = excluded.variance,
                updated_at = excluded.updated_at
            """,
            (task_type, model, learned.samples, learned.mean_output_tokens, learned.variance, self.now()),
        )

    async def record_prediction(self, prediction: Prediction) -> None:
        await self._write(
            """
            INSERT INTO cost_predictions (created_at, task_type, model, input_tokens, predicted_output_tokens,
                actual_output_tokens, predicted_cost_usd, actual_cost_usd, confidence)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                self.now(), prediction.task_type, prediction.model, prediction.input_tokens,
                prediction.predicted_output_tokens, prediction.actual_output_tokens,
                prediction.predicted_cost_usd, prediction.actual_cost_usd, prediction.confidence,
            ),
        )

    async def predictions(self) -> list[dict[str, Any]]:
        """Every prediction kept, oldest first (retention keeps each model's first and latest)."""
        return await self.rows("SELECT * FROM cost_predictions ORDER BY id", ())

    async def folded_predictions(self) -> dict[tuple[str, str], int]:
        """How many predictions per (task type, model) retention folded away (retention.py)."""
        return {(row["task_type"], row["model"]): int(row["predictions"])
                for row in await self.rows("SELECT task_type, model, predictions FROM prediction_totals", ())}

    # -- local attempts ----------------------------------------------------------

    async def record_attempt(self, model: str, task_type: str, score: float | None, accepted: bool | None,
                             tools: bool = False) -> None:
        """A local model's try in a cascade; `accepted` None records a skip; `tools`: an agent's turn (skips.py)."""
        await self._write(
            "INSERT INTO local_attempts (created_at, model, task_type, score, accepted, tools) VALUES (?, ?, ?, ?, ?, ?)",
            (self.now(), model, task_type, score, None if accepted is None else int(accepted), int(tools)),
        )

    async def tool_turn_record(self, model: str) -> tuple[int, int, int]:
        """`model` on agents' turns (skips.py): (tries accepted, tries, skips since the last try)."""
        [row] = await self._db.fetch(
            """SELECT COALESCE(SUM(accepted), 0) AS passed, COUNT(accepted) AS tries,
                      COALESCE(SUM(CASE WHEN accepted IS NULL AND id > COALESCE(
                          (SELECT MAX(id) FROM local_attempts WHERE model = ? AND tools = 1 AND accepted IS NOT NULL),
                          0) THEN 1 ELSE 0 END), 0) AS skips,
                      (SELECT COALESCE(SUM(accepted), 0) FROM attempt_days WHERE model = ? AND tools = 1) AS passed_before,
                      (SELECT COALESCE(SUM(tried), 0) FROM attempt_days WHERE model = ? AND tools = 1) AS tries_before
               FROM local_attempts WHERE model = ? AND tools = 1""", (model, model, model, model))
        return (int(row["passed"]) + int(row["passed_before"]), int(row["tries"]) + int(row["tries_before"]),
                int(row["skips"]))

    async def attempt_record(self, model: str, task_type: str, window: int) -> tuple[list[bool], int]:
        """(the last `window` outcomes, newest first; skips since the last try)."""
        key = (model, task_type)
        tries = await self._db.fetch(
            """SELECT accepted FROM local_attempts WHERE model = ? AND task_type = ? AND accepted IS NOT NULL
               ORDER BY id DESC LIMIT ?""",
            (*key, window),
        )
        skips = await self._db.fetch(
            """SELECT COUNT(*) AS n FROM local_attempts WHERE model = ? AND task_type = ? AND accepted IS NULL
               AND id > (SELECT COALESCE(MAX(id), 0) FROM local_attempts
                         WHERE model = ? AND task_type = ? AND accepted IS NOT NULL)""",
            (*key, *key),
        )
        return [bool(row["accepted"]) for row in tries], int(skips[0]["n"])

    async def charge(self, day: str, model: str, cost_usd: float) -> None:
        """Spend that happened outside a reservation (usage a client reports after bypassing Hermes)."""
        await self._write(
            """INSERT INTO ledger (day, created_at, settled_at, model, state, reserved_usd, cost_usd)
               VALUES (?, ?, ?, ?, 'charged', 0, ?)""",
            (day, self.now(), self.now(), model, cost_usd),
        )

    async def recent_predictions(self, limit: int) -> list[dict[str, Any]]:
        return await self.rows("SELECT * FROM cost_predictions ORDER BY id DESC LIMIT ?", (limit,))

    async def local_acceptance(self) -> tuple[int, int]:
        """(accepted, tried) over every local cascade attempt; skips are not tries."""
        rows = await self.rows(
            """SELECT (SELECT COALESCE(SUM(accepted), 0) FROM local_attempts)
                        + (SELECT COALESCE(SUM(accepted), 0) FROM attempt_days) AS accepted,
                      (SELECT COUNT(accepted) FROM local_attempts)
                        + (SELECT COALESCE(SUM(tried), 0) FROM attempt_days) AS tried""", ())
        return int(rows[0]["accepted"]), int(rows[0]["tried"])

    # -- preferences -------------------------------------------------------------

    async def preference_overrides(self) -> dict[str, tuple[Any, str]]:
        """Each setting changed through the API: (its value, when it was set)."""
        rows = await self._db.fetch("SELECT key, value, updated_at FROM preferences", ())
        return {row["key"]: (json.loads(row["value"]), row["updated_at"]) for row in rows}

    async def save_preference_overrides(self, values: dict[str, Any], stamp: str) -> None:
        """Set these overrides, all stamped `stamp`, in one transaction."""
        async def save() -> None:
            for key, value in values.items():
                await self._db.execute(
                    """INSERT INTO preferences (key, value, updated_at) VALUES (?, ?, ?)
                       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at""",
                    (key, json.dumps(value), stamp))

        await self.atomic(save)

    async def drop_preference_overrides(self, keys: list[str]) -> None:
        async def drop() -> None:
            for key in keys:
                await self._db.execute("DELETE FROM preferences WHERE key = ?", (key,))

        await self.atomic(drop)


def _json_text(value: Any) -> str:
    """`value` as JSON text for a column: orjson, as every request writes its "hermes" field."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits, which orjson cannot write
        return json.dumps(value)


def prompt_hash(messages: list[dict[str, Any]]) -> str:
    """The conversation's fingerprint (fingerprint.py), for a task recorded without one."""
    return conversation_hash(fingerprint(message) for message in messages)
