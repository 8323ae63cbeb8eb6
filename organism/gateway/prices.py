"""Model prices from ``config/prices.toml``: US dollars per million prompt and completion tokens.

The file is what users edit and review; the ledger copies the prices in force into each row, so the SQL store
keeps the prices every call was charged at and editing the file never rewrites history. A route's endpoint may
carry its own price in the settings instead, which holds whatever model name the endpoint reports.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok) / 1e6

    def price(self, model: str) -> Price:
        """Itself, whatever the model: the :class:`Prices` of an endpoint priced in the settings."""
        return self


class Prices(Protocol):
    """Where a call's price comes from: a :class:`PriceTable`, or an endpoint's own :class:`Price`."""

    def price(self, model: str) -> Price:
        """The price of ``model``."""


UNKNOWN = Price(0.0, 0.0)


class PriceError(ValueError):
    """The price file is malformed; the message names the file and the entry."""


class PriceTable:
    """The prices of one file, looked up by exact model name, then by the longest name the model starts with."""

    def __init__(self, prices: dict[str, Price], source: str) -> None:
        self._prices = prices
        self._by_length = sorted(prices, key=len, reverse=True)
        self._warned: set[str] = set()
        self.source = source

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        """Read ``path``; a missing file is an empty table (every model then costs 0, and says so once)."""
        if not path.is_file():
            logger.warning("no price file at %s: every model call costs 0 in the ledger", path)
            return cls({}, str(path))
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise PriceError(f"{path}: {error}") from None
        prices = {}
        for name, entry in data.get("models", {}).items():
            try:
                prices[name] = Price(float(entry["input"]), float(entry["output"]))
            except (KeyError, TypeError, ValueError):
                raise PriceError(f"{path}: [models.{name!r}] needs numeric 'input' and 'output' "
                                 "(US dollars per million tokens)") from None
        return cls(prices, str(path))

    def find(self, model: str) -> Price | None:
        """The price of ``model``, or None when the table does not know it."""
        found = self._prices.get(model)
        if found is None:
            found = next((self._prices[n] for n in self._by_length if model.startswith(n)), None)
        return found

    def price(self, model: str) -> Price:
        """The price of ``model``, or zero (logged once per model) when the table does not know it."""
        found = self.find(model)
        if found is None:
            if model not in self._warned:
                self._warned.add(model)
                logger.warning("model %r has no price in %s: its calls cost 0 in the ledger", model, self.source)
            return UNKNOWN
        return found
