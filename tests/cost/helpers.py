from __future__ import annotations

import sqlite3
import time
from typing import Any

from tests.e2e.harness import Response, http

PROMPT = [{"role": "user", "content": "Hello!"}]


def ask(url: str, user: str, team: str | None = None, **extra: Any) -> Response:
    """One Anthropic-format request as `user` (max_tokens 20: worst case ~$0.000125 on haiku 4.5)."""
    headers = {"x-user-id": user, **({"x-team-id": team} if team else {}), **extra.pop("headers", {})}
    body = {"model": "claude-haiku-4-5-20251001", "max_tokens": 20, "messages": PROMPT, **extra}
    return http("POST", f"{url}/v1/messages", json_body=body, headers=headers)


def records(path: str, user: str | None = None, wait_for: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Ledger rows (optionally for one user), waiting up to `timeout` for at least `wait_for` of them."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            conn.row_factory = sqlite3.Row
            sql, args = ("SELECT * FROM spend WHERE user = ? ORDER BY id", (user,)) if user else (
                "SELECT * FROM spend ORDER BY id", ())
            rows = [dict(r) for r in conn.execute(sql, args)]
            conn.close()
        except sqlite3.OperationalError:  # the writer has not created the file/table yet
            rows = []
        if len(rows) >= wait_for or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)
