"""Status lines, built once at import so a response never formats its first line."""

from __future__ import annotations

from http import HTTPStatus


def _phrase(code: int) -> bytes:
    try:
        return HTTPStatus(code).phrase.encode("latin-1")
    except ValueError:
        # Unknown codes still need the SP before the (empty) reason-phrase to be valid HTTP/1.1.
        return b""


STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %b\r\n" % (code, _phrase(code)) for code in range(100, 600)
}

CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"


def status_line(code: int) -> bytes:
    try:
        return STATUS_LINES[code]
    except KeyError:
        raise ValueError(f"invalid HTTP status code {code!r}") from None
