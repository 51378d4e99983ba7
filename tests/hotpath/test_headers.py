"""Header-list helpers of the hot path: cases on each implementation, and the compiled one checked
against the Python twin on generated header lists."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.proxy.forward import HOP_BY_HOP

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DROP = HOP_BY_HOP | {b"date", b"server"}

names = st.one_of(st.sampled_from([b"Content-Type", b"content-length", b"DATE", b"Server", b"X-Request-Id",
                                   b"Transfer-Encoding", b"set-cookie", b"\xc9t\xe9", b"A"]),
                  st.binary(max_size=12))
values = st.binary(max_size=20)
header_lists = st.lists(st.tuples(names, values), max_size=12)


def test_response_headers_lower_cases_names_and_drops(impl: ModuleType) -> None:
    raw = ((b"Content-Type", b"application/json"), (b"Content-Length", b"12"), (b"Date", b"Wed"),
           (b"X-Trace", b"A"), (b"x-trace", b"B"), (b"Server", b"up"))
    assert impl.response_headers(raw, DROP) == [(b"content-type", b"application/json"), (b"x-trace", b"A"),
                                               (b"x-trace", b"B")]
    assert impl.response_headers(list(raw), DROP - {b"content-length"})[1] == (b"content-length", b"12")
    assert impl.response_headers((), DROP) == []


def test_response_headers_lower_cases_ascii_only(impl: ModuleType) -> None:
    # bytes.lower() leaves non-ASCII bytes alone; so must the compiled version.
    assert impl.response_headers(((b"\xc9X-\xe9Z", b"v"),), frozenset()) == [(b"\xc9x-\xe9z", b"v")]


def test_response_headers_keeps_name_object_when_already_lower_case(impl: ModuleType) -> None:
    name = b"x-already-lower"
    out = impl.response_headers(((name, b"v"),), frozenset())
    assert out[0][0] == name


def test_response_headers_never_alters_its_input(impl: ModuleType) -> None:
    # CPython shares 1-byte bytes objects; lower-casing one in place would change b"A" everywhere.
    name = bytes([65])
    assert impl.response_headers(((name, b"v"),), frozenset({b"a"})) == []
    assert name == b"A" and bytes([65]) == b"A" and hash(name) == hash(b"A")


def test_latin1_headers_decodes_every_byte(impl: ModuleType) -> None:
    every = bytes(range(256))
    assert impl.latin1_headers([(b"x-all", every)]) == [("x-all", every.decode("latin-1"))]
    assert impl.latin1_headers([]) == []


def test_latin1_headers_refuses_str(impl: ModuleType) -> None:
    with pytest.raises((TypeError, AttributeError)):
        impl.latin1_headers([("x", "y")])


@SETTINGS
@given(raw=header_lists, drop=st.frozensets(names, max_size=6))
def test_response_headers_matches_python_twin(both: tuple[ModuleType, ModuleType], raw: list[tuple[bytes, bytes]],
                                              drop: frozenset[bytes]) -> None:
    py, c = both
    lowered = frozenset(n.lower() for n in drop)
    assert c.response_headers(tuple(raw), lowered) == py.response_headers(tuple(raw), lowered)


@SETTINGS
@given(headers=header_lists)
def test_latin1_headers_matches_python_twin(both: tuple[ModuleType, ModuleType],
                                            headers: list[tuple[bytes, bytes]]) -> None:
    py, c = both
    assert c.latin1_headers(headers) == py.latin1_headers(headers)
