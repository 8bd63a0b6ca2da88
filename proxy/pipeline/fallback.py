"""When an `auto` upgrade fails: the local answer it was to replace, rather than the error.

The cascade has already run by then, and its best local answer is in hand,
below the target but an answer. OpenRouter down, rate limited, out of credits
or slower than `cloud.timeout_s`, or the budget spent by another request
meanwhile: each should cost the user the upgrade, not the answer. Only before
any of the cloud's answer was sent; a stream cut part-way stays an error.
"""

from __future__ import annotations

import dataclasses

from proxy.config import Config
from proxy.errors import BudgetExhausted, HermesError, UpstreamError
from proxy.pipeline.cascade import Plan, local_target


def local_instead(config: Config, chosen: Plan, error: HermesError) -> Plan | None:
    """The plan that answers with the cascade's best local answer after `chosen`'s upgrade failed with `error`.

    None when there is none: `chosen` was not an upgrade from the cascade, or `error` is not the upgrade's
    fault (a client that left, an internal error).
    """
    cascade = chosen.cascade
    if (chosen.target.model.kind != "cloud" or cascade is None or cascade.answer is None or cascade.best is None
            or not isinstance(error, (UpstreamError, BudgetExhausted))):
        return None
    local = config.find_model(cascade.best.model)
    if local is None:
        return None
    score = f", {cascade.best.score.score:.1f}" if cascade.best.score else ""
    reason = (f"policy {chosen.policy}: the upgrade to {chosen.target.model.name} failed ({error.status} "
              f"{error.code}: {error.message}), so the best local answer ({local.name}{score}) instead")
    return dataclasses.replace(chosen, target=local_target(config, local), answer=cascade.answer, reason=reason,
                               failed_upgrade=chosen.target.model.name)
