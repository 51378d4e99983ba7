"""Connection URLs that may carry a password (Redis, Postgres): the text that is safe to show."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str, lone_user_is_secret: bool = False) -> str:
    """`url` with its password (userinfo or a `password=` parameter) replaced by <redacted>; with
    lone_user_is_secret, also a user part without a password (redis://TOKEN@host: Redis AUTH with one word)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<redacted>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        if colon:
            netloc = f"{user}:<redacted>@{hosts}"
        elif lone_user_is_secret:
            netloc = f":<redacted>@{hosts}"
    query = "&".join(_redact_param(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_param(pair: str) -> str:
    key = pair.partition("=")[0]
    return f"{key}=<redacted>" if key.lower() == "password" else pair


def url_password(url: str) -> str:
    """The password in `url`'s userinfo ("" when none): text to scrub from driver error messages."""
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""
