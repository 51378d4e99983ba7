"""Select the hot-path implementation: the compiled ``_fastpath`` or its Python twin.

Import hot-path names from here, never from ``_fastpath`` / ``fastpath_py`` directly.

* ``GATEWAY_NO_EXTENSIONS`` (non-empty) forces the pure-Python twin.
* ``GATEWAY_REQUIRE_EXTENSIONS`` (non-empty) turns a failed compiled import into an
  error instead of a silent fallback, so an "accelerated" CI leg cannot quietly test the
  Python twin twice. Setting both is contradictory and raises at import.
* ``IMPL`` is ``"c"`` or ``"py"``; the server logs it once at startup.
* ``py_impl`` / ``c_impl`` (``None`` when unavailable) expose both modules by name, which
  is what the differential tests in ``tests/hotpath`` use.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

from gateway import fastpath_py as py_impl

__all__ = (
    "FORMAT_ANTHROPIC",
    "FORMAT_OPENAI",
    "IMPL",
    "NO_EXTENSIONS",
    "PII_ALL",
    "PII_CA_SIN",
    "PII_CREDIT_CARD",
    "PII_EMAIL",
    "PII_KIND_COUNT",
    "PII_PHONE",
    "PII_SSN",
    "SseParser",
    "TokenBucket",
    "UsageAccumulator",
    "c_impl",
    "latin1_headers",
    "mask_pii",
    "py_impl",
    "response_headers",
    "scan_pii",
)

NO_EXTENSIONS = bool(os.environ.get("GATEWAY_NO_EXTENSIONS"))
REQUIRE_EXTENSIONS = bool(os.environ.get("GATEWAY_REQUIRE_EXTENSIONS"))

if NO_EXTENSIONS and REQUIRE_EXTENSIONS:
    raise RuntimeError("GATEWAY_NO_EXTENSIONS and GATEWAY_REQUIRE_EXTENSIONS are both set")

c_impl: ModuleType | None = None
if not NO_EXTENSIONS:
    try:
        from gateway import _fastpath as _compiled
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
    else:
        c_impl = _compiled

IMPL = "c" if c_impl is not None else "py"

if TYPE_CHECKING:
    # mypy sees one concrete set of types; the .pyi keeps the compiled module identical.
    from gateway.fastpath_py import (
        FORMAT_ANTHROPIC,
        FORMAT_OPENAI,
        PII_ALL,
        PII_CA_SIN,
        PII_CREDIT_CARD,
        PII_EMAIL,
        PII_KIND_COUNT,
        PII_PHONE,
        PII_SSN,
        SseParser,
        TokenBucket,
        UsageAccumulator,
        latin1_headers,
        mask_pii,
        response_headers,
        scan_pii,
    )
else:
    _impl = c_impl if c_impl is not None else py_impl
    SseParser = _impl.SseParser
    UsageAccumulator = _impl.UsageAccumulator
    TokenBucket = _impl.TokenBucket
    FORMAT_OPENAI = _impl.FORMAT_OPENAI
    FORMAT_ANTHROPIC = _impl.FORMAT_ANTHROPIC
    scan_pii = _impl.scan_pii
    mask_pii = _impl.mask_pii
    PII_SSN = _impl.PII_SSN
    PII_CREDIT_CARD = _impl.PII_CREDIT_CARD
    PII_PHONE = _impl.PII_PHONE
    PII_EMAIL = _impl.PII_EMAIL
    PII_CA_SIN = _impl.PII_CA_SIN
    PII_ALL = _impl.PII_ALL
    PII_KIND_COUNT = _impl.PII_KIND_COUNT
    response_headers = _impl.response_headers
    latin1_headers = _impl.latin1_headers
