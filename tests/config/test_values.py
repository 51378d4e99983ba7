from __future__ import annotations

import pytest

from gateway.config import parse_duration
from gateway.config.model import HostPort
from gateway.config.values import parse_base_url, parse_host_port, parse_listen_addr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5), ("60s", 60), ("1m30s", 90), ("0", 0),
     ("3m0s", 180), ("100us", 1e-4), ("2h", 7200)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "5x", "1h x", "s", "-1s", "1.2.3s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_host_port() -> None:
    assert parse_host_port("api.example.com:443") == HostPort("api.example.com", 443)
    assert parse_host_port("[::1]:8080") == HostPort("::1", 8080)
    for bad in ("example.com", "example.com:http", ":80", "::1:80", "[::1]", "[zz]:1", "a.com:70000"):
        with pytest.raises(ValueError):
            parse_host_port(bad)


def test_listen_addr() -> None:
    assert parse_listen_addr("off", allow_off=True) is None
    assert parse_listen_addr("localhost:15000", allow_off=True) == HostPort("localhost", 15000)
    with pytest.raises(ValueError):
        parse_listen_addr("off", allow_off=False)
    with pytest.raises(ValueError):
        parse_listen_addr("example.com:1", allow_off=True)


def test_base_url() -> None:
    assert parse_base_url("https://api.openai.com/v1/") == (HostPort("api.openai.com", 443), "/v1", True)
    assert parse_base_url("http://10.0.0.1:8000") == (HostPort("10.0.0.1", 8000), None, False)
