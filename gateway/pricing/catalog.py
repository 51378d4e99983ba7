"""Model prices: agentgateway's `modelCatalog` document format, merged over the built-in list prices.

A catalog document is `{providers: {<provider>: {models: {<model>: {rates: {input, output, cacheRead,
cacheWrite}, tiers: [{contextOver, rates}]}}}}}` with USD per 1M tokens as decimal strings. Later
documents win per model. Rates are parsed as decimals and kept as exact integers (1e-15 USD per token,
i.e. 9 decimal places of USD per 1M tokens); a request's cost is rounded once, half up, to whole
nanodollars (USD x 1e9), so every sum downstream is exact integer arithmetic and fast.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

BUILTIN_FILE = Path(__file__).with_name("builtin_catalog.json")
NANOS_PER_USD = 1_000_000_000
# Rates are stored as femtodollars (1e-15 USD) per token: USD per 1M tokens x 1e9.
_RATE_SCALE = Decimal(1_000_000_000)
_FEMTO_PER_NANO = 1_000_000
_RATE_KEYS = {"input", "output", "cacheRead", "cacheWrite", "reasoning", "inputAudio", "outputAudio"}
# Dated or versioned model ids that share the undated entry's price.
_DATED_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|@\d{8}|-latest|-preview(-\d{2}-\d{4})?)$")
# gen_ai.provider.name (and common spellings) -> catalog provider key.
_PROVIDER_ALIASES = {"gcp.gemini": "gemini", "google": "gemini", "vertex": "gemini", "gcp.vertex_ai": "gemini",
                     "openai": "openai", "azure": "openai", "azure.ai.openai": "openai"}
_LOOKUP_CACHE_MAX = 4096


class CatalogError(ValueError):
    """A malformed catalog document; `path` is the position inside the document."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Rates:
    """Femtodollars (1e-15 USD) per token, exact integers."""

    input: int
    output: int
    cache_read: int
    cache_write: int


@dataclass(frozen=True)
class ModelPrice:
    rates: Rates
    tiers: tuple[tuple[int, Rates], ...] = ()  # (contextOver, rates), ascending

    def rates_for(self, context_tokens: int) -> Rates:
        chosen = self.rates
        for over, rates in self.tiers:
            if context_tokens > over:
                chosen = rates
        return chosen


@dataclass(frozen=True)
class Cost:
    """One request's price; `nanos` is the sum of the parts rounded once."""

    nanos: int
    known: bool  # False: the model has no price (charged 0)
    priced_as: str | None = None  # the catalog entry that matched


def usd(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS_PER_USD


def usd_text(nanos: int) -> str:
    """Exact decimal USD with 9 places (nanodollars), e.g. "0.000123450"."""
    sign = "-" if nanos < 0 else ""
    whole, frac = divmod(abs(nanos), NANOS_PER_USD)
    return f"{sign}{whole}.{frac:09d}"


def to_nanos(amount: str | int | float | Decimal) -> int:
    """USD (decimal string) -> nanodollars; raises ValueError on junk or negatives."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f'invalid amount "{amount}" (expected a decimal USD string like "0.05")') from None
    if not value.is_finite() or value < 0:
        raise ValueError(f'invalid amount "{amount}" (expected a non-negative decimal)')
    return int((value * NANOS_PER_USD).to_integral_value(ROUND_HALF_UP))


def _rate(raw: Any, path: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise CatalogError(path, f"expected a decimal string, got {type(raw).__name__}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CatalogError(path, f'invalid decimal "{raw}"') from None
    if not value.is_finite() or value < 0:
        raise CatalogError(path, f'invalid rate "{raw}" (must be >= 0)')
    return int((value * _RATE_SCALE).to_integral_value(ROUND_HALF_UP))


def _rates(raw: Any, path: str, base: Rates | None) -> Rates:
    if not isinstance(raw, dict):
        raise CatalogError(path, "expected object")
    for key in raw:
        if key not in _RATE_KEYS:
            raise CatalogError(f"{path}.{key}", "unknown rate; expected input, output, cacheRead, cacheWrite")
    if base is None and ("input" not in raw or "output" not in raw):
        raise CatalogError(path, 'missing field "input" or "output"')
    inp = _rate(raw["input"], f"{path}.input") if "input" in raw else base.input  # type: ignore[union-attr]
    out = _rate(raw["output"], f"{path}.output") if "output" in raw else base.output  # type: ignore[union-attr]
    # No cache rate listed means no discount and no surcharge: cached tokens cost what input costs.
    cr = _rate(raw["cacheRead"], f"{path}.cacheRead") if "cacheRead" in raw else inp
    cw = _rate(raw["cacheWrite"], f"{path}.cacheWrite") if "cacheWrite" in raw else inp
    return Rates(inp, out, cr, cw)


def _model(raw: Any, path: str) -> ModelPrice:
    if not isinstance(raw, dict):
        raise CatalogError(path, "expected object")
    base = _rates(raw.get("rates"), f"{path}.rates", None)
    tiers = []
    for i, tier in enumerate(raw.get("tiers") or ()):
        tpath = f"{path}.tiers[{i}]"
        over = tier.get("contextOver") if isinstance(tier, dict) else None
        if isinstance(over, bool) or not isinstance(over, int) or over < 0:
            raise CatalogError(f"{tpath}.contextOver", "expected a non-negative integer")
        tiers.append((over, _rates(tier.get("rates"), f"{tpath}.rates", base)))
    return ModelPrice(base, tuple(sorted(tiers, key=lambda t: t[0])))


def parse_document(doc: Any) -> dict[str, dict[str, ModelPrice]]:
    """A catalog document -> {provider: {model: price}}; raises CatalogError naming the position."""
    if not isinstance(doc, dict):
        raise CatalogError("", "expected object")
    providers = doc.get("providers")
    if not isinstance(providers, dict):
        raise CatalogError("providers", "expected object")
    out: dict[str, dict[str, ModelPrice]] = {}
    for pname, pdata in providers.items():
        models = pdata.get("models") if isinstance(pdata, dict) else None
        if not isinstance(models, dict):
            raise CatalogError(f"providers.{pname}.models", "expected object")
        table = out.setdefault(normalize_provider(pname), {})
        for mname, mdata in models.items():
            table[mname] = _model(mdata, f"providers.{pname}.models.{mname}")
    return out


def normalize_provider(name: str) -> str:
    low = name.lower()
    return _PROVIDER_ALIASES.get(low, low)


def _candidates(model: str) -> list[str]:
    names = [model]
    if "/" in model:  # "openai/gpt-4o", "models/gemini-2.5-pro"
        names.append(model.rsplit("/", 1)[1])
    for name in list(names):
        stripped = _DATED_SUFFIX.sub("", name)
        while stripped != name:
            names.append(stripped)
            name, stripped = stripped, _DATED_SUFFIX.sub("", stripped)
    return names


class Catalog:
    """Merged price table with cached lookups (exact, then undated, then any provider)."""

    def __init__(self, tables: list[dict[str, dict[str, ModelPrice]]], version: str) -> None:
        self.version = version
        self._by_provider: dict[str, dict[str, ModelPrice]] = {}
        for table in tables:
            for provider, models in table.items():
                self._by_provider.setdefault(provider, {}).update(models)
        self._any: dict[str, ModelPrice] = {}
        for models in self._by_provider.values():
            for name, price in models.items():
                self._any.setdefault(name, price)
        self._cache: dict[tuple[str, str], tuple[str, ModelPrice] | None] = {}

    def __len__(self) -> int:
        return sum(len(m) for m in self._by_provider.values())

    def lookup(self, provider: str, model: str) -> tuple[str, ModelPrice] | None:
        key = (provider, model)
        if key in self._cache:
            return self._cache[key]
        found = self._find(normalize_provider(provider), model)
        if len(self._cache) >= _LOOKUP_CACHE_MAX:
            self._cache.clear()  # unbounded model names from clients must not grow memory
        self._cache[key] = found
        return found

    def _find(self, provider: str, model: str) -> tuple[str, ModelPrice] | None:
        own = self._by_provider.get(provider, {})
        for name in _candidates(model):
            price = own.get(name) or self._any.get(name)
            if price is not None:
                return name, price
        return None

    def cost(self, provider: str, model: str | None, uncached_input: int, output: int, cache_read: int,
             cache_write: int) -> Cost:
        """Price token counts already split by kind (`uncached_input` excludes cache reads/writes)."""
        found = self.lookup(provider, model) if model else None
        if found is None:
            return Cost(0, False)
        name, price = found
        r = price.rates_for(uncached_input + cache_read + cache_write)
        total = uncached_input * r.input + output * r.output + cache_read * r.cache_read + cache_write * r.cache_write
        return Cost(_round(total), True, name)

    def worst_case(self, provider: str, model: str | None, input_tokens: int, output_tokens: int) -> Cost:
        """Upper bound for a request: every input token at the dearest input rate (a cache write can
        cost more than plain input), every allowed output token at the output rate."""
        found = self.lookup(provider, model) if model else None
        if found is None:
            return Cost(0, False)
        name, price = found
        r = price.rates_for(input_tokens)
        per_input = max(r.input, r.cache_read, r.cache_write)
        total = input_tokens * per_input + output_tokens * r.output
        return Cost(_round(total) + 1, True, name)


def _round(femtos: int) -> int:
    """Femtodollars -> nanodollars, half up (costs are never negative)."""
    return (femtos + _FEMTO_PER_NANO // 2) // _FEMTO_PER_NANO


def split_usage(usage: Any) -> tuple[int, int, int, int]:
    """(uncached input, output, cache read, cache write) from a fastpath.UsageAccumulator.

    `total_input_tokens()` applies the provider convention (OpenAI's prompt_tokens includes cached
    tokens, Anthropic's input_tokens excludes them); subtracting the cache counts from that total gives
    the tokens billed at the full input rate under both conventions.
    """
    read, write = usage.cache_read_tokens, usage.cache_write_tokens
    uncached = max(0, usage.total_input_tokens() - read - write)
    return uncached, usage.output_tokens, read, write


def load_builtin() -> tuple[dict[str, dict[str, ModelPrice]], str]:
    with BUILTIN_FILE.open("rb") as f:
        doc = json.load(f)
    return parse_document(doc), str(doc["version"])


def build_catalog(documents: tuple[Any, ...], builtin: bool = True) -> Catalog:
    """The built-in prices (unless disabled) overridden by `documents` in order."""
    tables: list[dict[str, dict[str, ModelPrice]]] = []
    version = "none"
    if builtin:
        table, version = load_builtin()
        tables.append(table)
    if documents:
        tables.extend(parse_document(doc) for doc in documents)
        digest = hashlib.sha256(json.dumps(documents, sort_keys=True, default=str).encode()).hexdigest()[:10]
        version = f"{version}+config-{digest}"
    return Catalog(tables, version)
