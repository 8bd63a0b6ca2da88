"""Prices found stale by the bills: a model billed above what its table price allowed (budget.py).

A correction is kept against the table price it was measured on: once that
price changes (a new price table, an override in routing_rules.yaml), the old
correction no longer applies and reservations go back to the table.
"""

from __future__ import annotations

from typing import Any

from proxy.storage.records import Records


class PriceRecords(Records):
    async def price_factor(self, model: str, input_usd: float, output_usd: float) -> float:
        """How many times its table price `model` was found to bill (1.0: as the table says)."""
        rows = await self._db.fetch(
            "SELECT factor FROM price_corrections WHERE model = ? AND input_usd = ? AND output_usd = ?",
            (model, input_usd, output_usd))
        return max(float(rows[0]["factor"]), 1.0) if rows else 1.0

    async def raise_price_factor(self, model: str, input_usd: float, output_usd: float, factor: float,
                                 bill_usd: float, reserved_usd: float) -> None:
        """Note that `model` billed `bill_usd` on a `reserved_usd` reservation: `factor` times its table price.

        Only ever raised for one table price: a cheaper bill later does not undo
        it while calls of the dearer kind may still come.
        """
        await self._write(
            """INSERT INTO price_corrections (model, input_usd, output_usd, factor, bill_usd, reserved_usd, found_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (model) DO UPDATE SET
                 factor = CASE WHEN price_corrections.input_usd = excluded.input_usd
                                AND price_corrections.output_usd = excluded.output_usd
                                AND price_corrections.factor > excluded.factor
                               THEN price_corrections.factor ELSE excluded.factor END,
                 input_usd = excluded.input_usd, output_usd = excluded.output_usd,
                 bill_usd = excluded.bill_usd, reserved_usd = excluded.reserved_usd, found_at = excluded.found_at""",
            (model, input_usd, output_usd, factor, bill_usd, reserved_usd, self.now()))

    async def stale_prices(self) -> list[dict[str, Any]]:
        """Every model found to bill above its table price: model, factor, the bill and reservation, when."""
        return await self.rows(
            """SELECT model, factor, bill_usd, reserved_usd, found_at, input_usd, output_usd
               FROM price_corrections ORDER BY model""", ())
