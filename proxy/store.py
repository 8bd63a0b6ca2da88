"""The store: every SQL statement Hermes makes, on either backend (database.py).

Every write is a unit of transactions.py: one transaction that a cancelled
request never splits, joined by the writes called inside it. The SQL is
written once, in what SQLite and PostgreSQL both speak. Prompts are stored
only when `server.store_prompts` is on; otherwise a hash and token counts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from collections.abc import Awaitable, Callable, Coroutine
from typing import TypeVar

from proxy.database import Database, open_database
from proxy.estimate import Learned
from proxy.owner import is_gone, this_process

T = TypeVar("T")

# The note on a reservation charged at its worst case because its process died mid-call.
UNKNOWN_OUTCOME = "outcome unknown: its process ended mid-call"


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


class Store:
    """Hermes's records on one database, opened and migrated in the app's lifespan."""

    def __init__(self, db: Database, store_prompts: bool = False) -> None:
        self._db = db
        self._store_prompts = store_prompts

    @classmethod
    async def open(cls, location: str | Path, store_prompts: bool = False) -> Store:
        """The store at `location`: a postgresql:// URL, or a SQLite file's path."""
        return cls(await open_database(location), store_prompts)

    async def close(self) -> None:
        await self._db.close()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    async def atomic(self, work: Callable[[], Awaitable[T]],
                     abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Run `work` as one transaction, whole even if the caller is cancelled (transactions.py)."""
        return await self._db.atomic(work, abandoned)

    async def run_to_end(self, work: Coroutine[Any, Any, T],
                         abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Await `work`, which goes on to its end if the caller is cancelled."""
        return await self._db.run_to_end(work, abandoned)

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        await self._db.execute(sql, params)

    # -- tasks ---------------------------------------------------------------

    async def record_task(self, task: TaskRecord) -> None:
        await self._write(
            """
            INSERT INTO tasks (created_at, requested_model, route, model, stream, status, error_code,
                               prompt_sha256, prompt, input_tokens, output_tokens, cost_usd, latency_ms, task_type,
                               session_id, hermes, saved_usd)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                _now(), task.requested_model, task.route, task.model, int(task.stream), task.status,
                task.error_code, prompt_sha256(task.messages),
                json.dumps(task.messages) if self._store_prompts else None,
                task.input_tokens, task.output_tokens, task.cost_usd, task.latency_ms, task.task_type,
                task.session_id, None if task.hermes is None else json.dumps(task.hermes), task.saved_usd,
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
            (day, _now(), model, reserved_usd, this_process(), key_id),
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
            (state, cost_usd or 0.0, _now(), reported_usd, note, reservation_id),
        )

    async def note_generation(self, reservation_id: int, generation_id: str) -> None:
        """The upstream's id for a call in flight: if this process dies, its cost can still be looked up."""
        await self._write("UPDATE ledger SET generation_id = ? WHERE id = ? AND state = 'held'",
                          (generation_id, reservation_id))

    async def unknown_outcomes(self) -> list[dict[str, Any]]:
        """Calls charged at their worst case after a crash that the upstream may still tell the cost of."""
        return await self.rows(
            f"""SELECT id, generation_id, reserved_usd FROM ledger
                WHERE note = '{UNKNOWN_OUTCOME}' AND generation_id IS NOT NULL""", ())

    async def reconcile(self, reservation_id: int, cost_usd: float, reported_usd: float) -> None:
        """Replace a worst-case charge by what the upstream says the call cost."""
        await self._write(
            f"""UPDATE ledger SET cost_usd = ?, reported_cost_usd = ?,
                note = 'outcome unknown, then reconciled with the upstream''s record'
                WHERE id = ? AND note = '{UNKNOWN_OUTCOME}'""",
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
                    (_now(), reservation_id))
            return len(gone)

        return await self.atomic(charge)

    async def heartbeat(self) -> None:
        """Note that this process is alive: replicas on other hosts leave its reservations alone (owner.py)."""
        await self._write("""INSERT INTO replicas (owner, seen_at) VALUES (?, ?)
                             ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at""", (this_process(), _now()))

    async def spend_by_model(self, day: str) -> list[dict[str, Any]]:
        return await self.rows(
            """
            SELECT model, COUNT(*) AS calls, SUM(cost_usd) AS cost_usd FROM ledger
            WHERE day = ? AND state = 'charged' GROUP BY model ORDER BY cost_usd DESC
            """,
            (day,),
        )

    # -- estimates and predictions ---------------------------------------------

    async def learned(self, task_type: str, model: str) -> Learned | None:
        rows = await self._db.fetch(
            "SELECT samples, mean_output_tokens, variance FROM estimates WHERE task_type = ? AND model = ?",
            (task_type, model),
        )
        return Learned(**rows[0]) if rows else None

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
            (task_type, model, learned.samples, learned.mean_output_tokens, learned.variance, _now()),
        )

    async def record_prediction(self, prediction: Prediction) -> None:
        await self._write(
            """
            INSERT INTO cost_predictions (created_at, task_type, model, input_tokens, predicted_output_tokens,
                actual_output_tokens, predicted_cost_usd, actual_cost_usd, confidence)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                _now(), prediction.task_type, prediction.model, prediction.input_tokens,
                prediction.predicted_output_tokens, prediction.actual_output_tokens,
                prediction.predicted_cost_usd, prediction.actual_cost_usd, prediction.confidence,
            ),
        )

    async def predictions(self) -> list[dict[str, Any]]:
        """Every prediction, oldest first."""
        return await self.rows("SELECT * FROM cost_predictions ORDER BY id", ())

    # -- sessions --------------------------------------------------------------

    async def session(self, session_id: str) -> dict[str, Any] | None:
        rows = await self._db.fetch("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return rows[0] if rows else None

    async def touch_session(self, session_id: str, turns: int, context_tokens: int, mean_user_tokens: int,
                            output_tokens: int, cost_usd: float = 0.0, stays_on: str | None = None) -> None:
        """Note a turn of `session_id`: its size now (the client resends it all, so these replace) and its cost.

        `stays_on`: the cloud model the session moved to (as `stay_on_cloud`), in the same statement.
        """
        now = _now()
        await self._write(
            """
            INSERT INTO sessions (id, started_at, last_seen_at, turns, context_tokens, mean_user_tokens,
                                  output_tokens, cost_usd, cloud_model)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, turns = excluded.turns,
                context_tokens = excluded.context_tokens, mean_user_tokens = excluded.mean_user_tokens,
                output_tokens = excluded.output_tokens, cost_usd = sessions.cost_usd + excluded.cost_usd,
                cloud_model = COALESCE(excluded.cloud_model, sessions.cloud_model)
            """,
            (session_id, now, now, turns, context_tokens, mean_user_tokens, output_tokens, cost_usd, stays_on),
        )

    async def add_session_link(self, thread: str, session_id: str, cloud_model: str | None) -> None:
        """Note an answer of `session_id` (the conversation through it, digested); the first such answer wins."""
        await self._write(
            """INSERT INTO session_links (thread_sha256, session_id, cloud_model, created_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (thread_sha256) DO NOTHING""",
            (thread, session_id, cloud_model, _now()))

    async def claim_session_link(self, thread: str, next_thread: str, idle_timeout_s: float
                                 ) -> tuple[str, str | None] | None:
        """(session id, cloud model) of the answer `thread` ends with, for the turn `next_thread` that follows it.

        None when no such answer is known, it is older than `idle_timeout_s`, or
        another turn already went on from it (a fork). One statement: two
        processes cannot both claim it.
        """
        since = (datetime.now(timezone.utc) - timedelta(seconds=idle_timeout_s)).isoformat()

        async def claim() -> tuple[str, str | None] | None:
            rows = await self._db.fetch(
                """UPDATE session_links SET next_thread_sha256 = ?
                   WHERE thread_sha256 = ? AND created_at >= ? AND COALESCE(next_thread_sha256, ?) = ?
                   RETURNING session_id, cloud_model""",
                (next_thread, thread, since, next_thread, next_thread))
            return (rows[0]["session_id"], rows[0]["cloud_model"]) if rows else None

        return await self.atomic(claim)

    async def record_outcome(self, session_id: str, verdict: str, reason: str) -> dict[str, Any] | None:
        """The next turn's verdict on `session_id`'s last answered request (outcome.py): that task row, or None.

        Only the first verdict on a request counts. When it failed and the
        answer was a local one the cascade accepted, that attempt no longer
        counts as accepted: the model's record, and so its later skips, learn it.
        """
        async def record() -> dict[str, Any] | None:
            rows = await self._db.fetch(
                """SELECT id, created_at, requested_model, route, model, task_type, outcome FROM tasks
                   WHERE session_id = ? AND status = 200 ORDER BY id DESC LIMIT 1""", (session_id,))
            if not rows or rows[0]["outcome"] is not None:
                return None
            task = rows[0]
            await self._db.execute("UPDATE tasks SET outcome = ?, outcome_reason = ? WHERE id = ?",
                                   (verdict, reason, task["id"]))
            if verdict == "failed" and task["route"] == "local" and task["requested_model"] == "auto":
                await self._db.execute(
                    """UPDATE local_attempts SET accepted = 0, outcome_reason = ? WHERE id = (
                           SELECT id FROM local_attempts WHERE model = ? AND task_type = ? AND accepted = 1
                           AND created_at <= ? ORDER BY id DESC LIMIT 1)""",
                    (reason, task["model"], task["task_type"], task["created_at"]))
            return task

        return await self.atomic(record)

    async def stay_on_cloud(self, session_id: str, model: str | None) -> None:
        """Remember the cloud model a session moved to (None: back to local)."""
        await self._write("UPDATE sessions SET cloud_model = ? WHERE id = ?", (model, session_id))

    async def mean_session_turns(self, excluding: str) -> tuple[float | None, int]:
        """(mean turns, how many sessions) over every other session."""
        [row] = await self.rows("SELECT AVG(turns) AS mean, COUNT(*) AS n FROM sessions WHERE id != ?", (excluding,))
        return (float(row["mean"]) if row["mean"] is not None else None), int(row["n"])

    # -- local attempts ----------------------------------------------------------

    async def record_attempt(self, model: str, task_type: str, score: float | None, accepted: bool | None) -> None:
        """A local model's try in a cascade; `accepted` None records a skip."""
        await self._write(
            "INSERT INTO local_attempts (created_at, model, task_type, score, accepted) VALUES (?, ?, ?, ?, ?)",
            (_now(), model, task_type, score, None if accepted is None else int(accepted)),
        )

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
            (day, _now(), _now(), model, cost_usd),
        )

    async def recent_predictions(self, limit: int) -> list[dict[str, Any]]:
        return await self.rows("SELECT * FROM cost_predictions ORDER BY id DESC LIMIT ?", (limit,))

    async def local_acceptance(self) -> tuple[int, int]:
        """(accepted, tried) over every local cascade attempt; skips are not tries."""
        rows = await self.rows(
            "SELECT COALESCE(SUM(accepted), 0) AS accepted, COUNT(accepted) AS tried FROM local_attempts", ())
        return int(rows[0]["accepted"]), int(rows[0]["tried"])

    # -- keys ------------------------------------------------------------------

    async def create_key(self, name: str, key_sha256: str, daily_limit_usd: float | None) -> bool:
        """Store a key by its hash; False (and nothing stored) when a key of that name is in use."""
        async def create() -> bool:
            if await self._db.fetch("SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL", (name,)):
                return False
            await self._db.execute(
                "INSERT INTO api_keys (name, key_sha256, daily_limit_usd, created_at) VALUES (?, ?, ?, ?)",
                (name, key_sha256, daily_limit_usd, _now()))
            return True

        return await self.atomic(create)

    async def revoke_key(self, name: str) -> bool:
        """Revoke the key in use by `name`; False if there is none."""
        rows = await self.atomic(lambda: self._db.fetch(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING id", (_now(), name)))
        return bool(rows)

    async def find_key(self, key_sha256: str) -> dict[str, Any] | None:
        """The key in use with this hash (id, name, daily_limit_usd), or None."""
        rows = await self._db.fetch(
            "SELECT id, name, daily_limit_usd FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL", (key_sha256,))
        return rows[0] if rows else None

    async def keys_in_use(self) -> int:
        [row] = await self._db.fetch("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL", ())
        return int(row["n"])

    async def keys(self, day: str) -> list[dict[str, Any]]:
        """Every key, revoked ones too, with what it charged and holds on `day` (`spent_usd`)."""
        return await self.rows(
            f"""SELECT k.name, k.daily_limit_usd, k.created_at, k.revoked_at, {_KEY_SPEND} AS spent_usd
                FROM api_keys k ORDER BY k.name, k.id""", (day,))

    # -- preferences -------------------------------------------------------------

    async def preferences(self) -> dict[str, Any] | None:
        rows = await self._db.fetch("SELECT value FROM preferences WHERE key = 'settings'", ())
        return json.loads(rows[0]["value"]) if rows else None

    async def save_preferences(self, settings: dict[str, Any]) -> None:
        await self._write(
            """INSERT INTO preferences (key, value, updated_at) VALUES ('settings', ?, ?)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at""",
            (json.dumps(settings), _now()),
        )

    async def rows(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        """The rows of one read-only query, as dicts, off the calls' path (reports.py builds on this)."""
        return await self._db.rows(sql, params)

    def json_text(self, column: str, *path: str) -> str:
        """SQL for the text at `path` in the JSON of `column`, in this backend's dialect (for reports)."""
        return self._db.json_text(column, *path)


# What key `k.id` has charged and holds on the day given as the parameter.
_KEY_SPEND = """COALESCE((SELECT SUM(CASE WHEN l.state = 'charged' THEN l.cost_usd ELSE l.reserved_usd END)
                          FROM ledger l WHERE l.key_id = k.id AND l.day = ? AND l.state != 'released'), 0)"""


def prompt_sha256(messages: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
