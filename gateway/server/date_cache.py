"""The `date` response header, formatted at most once per second.

Formatting an RFC 7231 date costs far more than a clock read, so every response reuses the bytes
until the wall-clock second changes. Lazy refresh (instead of a ticker task) means there is no
lifecycle to manage and protocol tests get a correct header without a running server.
"""

from __future__ import annotations

import time
from email.utils import formatdate


class DateCache:
    __slots__ = ("header", "_expires")

    def __init__(self) -> None:
        self.header = b""
        self._expires = 0.0
        self.get()

    def get(self) -> bytes:
        """`date: <IMF-fixdate>\\r\\n`, current to the second."""
        now = time.time()
        if now >= self._expires:
            second = int(now)
            self.header = b"date: " + formatdate(second, usegmt=True).encode("ascii") + b"\r\n"
            self._expires = second + 1.0
        return self.header


DATE_CACHE = DateCache()
date_header = DATE_CACHE.get
