"""What every step of the pipeline reads: the app's shared services, and one request as understood.

Apart from steps.py so that report.py, the edge and the tests can name them
without importing the steps themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.chat import ChatRequest
from proxy.config import Config
from proxy.money.keys import ApiKey
from proxy.money.meter import Meter
from proxy.money.preferences import Preferences
from proxy.money.pricing import PriceTable
from proxy.pipeline.classify import Classifier, TaskClass
from proxy.pipeline.local_attempt import LocalSpeeds
from proxy.pipeline.session import Conversation
from proxy.pipeline.unseen import InFlight
from proxy.storage.store import Store
from proxy.upstreams.ollama import LocalCatalog
from proxy.upstreams.upstream import Upstream
from proxy.wire.dialect import Dialect
from proxy.wire.openai_api import OPENAI


@dataclass(frozen=True)
class Services:
    """What every request needs, made once at start-up."""

    config: Config
    store: Store
    prices: PriceTable
    meter: Meter
    catalog: LocalCatalog
    classifier: Classifier
    preferences: Preferences
    speeds: LocalSpeeds  # the local models' measured prefill speeds (local_attempt.py)
    upstream: Upstream  # cloud calls through the pooled relay, local ones through LiteLLM
    in_flight: InFlight | None = None  # the cloud streams running now: what a shutdown cuts (unseen.py)


@dataclass
class Outcome:
    """Whether a request is in the tasks table yet: each one is recorded exactly once."""

    recorded: bool = False


@dataclass(frozen=True)
class Request:
    """One chat request, understood: the validated body, its session and its class."""

    chat: ChatRequest
    conversation: Conversation
    task: TaskClass
    headers: Mapping[str, str]
    started: float  # time.monotonic() on arrival: latency includes the cascade
    outcome: Outcome = dataclasses.field(default_factory=Outcome)
    key: ApiKey | None = None  # the team key it came with: whose budget a cloud call draws on (keys.py)
    dialect: Dialect = OPENAI  # the client's wire dialect: how the answer goes back (wire/dialect.py)
