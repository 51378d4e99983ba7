# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled hot path; the twin of ``gateway/fastpath_py.py`` (the reference implementation).

Same names, signatures, results and exception types/messages as the Python twin; see its
docstrings for the semantics. This file only adds the *how*: C buffers and pointer scans
instead of per-line ``bytes`` objects. Import through ``gateway.fastpath``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.math cimport floor, isfinite
from libc.string cimport memchr, memcmp, memcpy

import orjson

FORMAT_OPENAI = 0
FORMAT_ANTHROPIC = 1
DEFAULT_MAX_EVENT_SIZE = 1 << 20

cdef enum:
    _FMT_OPENAI = 0
    _FMT_ANTHROPIC = 1

cdef long long _INT64_MAX = 0x7FFFFFFFFFFFFFFF

cdef str _OVERSIZE = "SSE event exceeds max_event_size ({} bytes)"
cdef str _BROKEN = "SSE parser failed earlier on an oversized event"
cdef bytes _EMPTY = b""
_JSONDecodeError = orjson.JSONDecodeError
_loads = orjson.loads


# ------------------------------------------------------------------------------------------
# Growable byte buffer; capacity never exceeds what the size bound lets through.

cdef struct _Buf:
    char* ptr
    Py_ssize_t len
    Py_ssize_t cap


cdef int _buf_put(_Buf* b, const char* src, Py_ssize_t n) except -1:
    cdef Py_ssize_t need = b.len + n
    cdef Py_ssize_t cap
    cdef char* p
    if need > b.cap:
        cap = b.cap * 2 if b.cap else 256
        if cap < need:
            cap = need
        p = <char*>PyMem_Realloc(b.ptr, cap)
        if p == NULL:
            raise MemoryError()
        b.ptr = p
        b.cap = cap
    if n:
        memcpy(b.ptr + b.len, src, n)
    b.len = need
    return 0


cdef inline void _buf_free(_Buf* b) noexcept:
    PyMem_Free(b.ptr)
    b.ptr = NULL
    b.len = 0
    b.cap = 0


# ------------------------------------------------------------------------------------------
# SSE framing

cdef class SseParser:
    cdef Py_ssize_t _max
    cdef _Buf _line      # incomplete trailing line (never holds \r or \n)
    cdef _Buf _data      # data lines joined with \n
    cdef _Buf _event     # event name
    cdef bint _has_data
    cdef bint _skip_lf   # previous chunk ended on \r: a leading \n completes that CRLF
    cdef bint _broken
    cdef bytes _last_name  # reused when consecutive events share a name (Anthropic)

    def __cinit__(self, Py_ssize_t max_event_size=DEFAULT_MAX_EVENT_SIZE):
        if max_event_size < 1:
            raise ValueError("max_event_size must be >= 1")
        self._max = max_event_size
        self._last_name = _EMPTY

    def __dealloc__(self):
        _buf_free(&self._line)
        _buf_free(&self._data)
        _buf_free(&self._event)

    @property
    def max_event_size(self):
        return self._max

    cdef int _fail(self) except -1:
        self._broken = True
        self._line.len = 0
        self._data.len = 0
        self._event.len = 0
        self._has_data = False
        raise ValueError(_OVERSIZE.format(self._max))

    cdef inline int _check(self, Py_ssize_t extra) except -1:
        if self._data.len + self._event.len + extra > self._max:
            self._fail()
        return 0

    cdef int _dispatch(self, list out) except -1:
        cdef bytes name
        if self._has_data:
            if self._event.len == 0:
                name = _EMPTY
            elif (self._event.len == PyBytes_GET_SIZE(self._last_name)
                  and memcmp(self._event.ptr, PyBytes_AS_STRING(self._last_name), self._event.len) == 0):
                name = self._last_name
            else:
                name = PyBytes_FromStringAndSize(self._event.ptr, self._event.len)
                self._last_name = name
            out.append((name, PyBytes_FromStringAndSize(self._data.ptr, self._data.len)))
        self._data.len = 0
        self._event.len = 0
        self._has_data = False
        return 0

    cdef int _process(self, const char* p, Py_ssize_t n, list out) except -1:
        cdef const char* colon
        cdef const char* v
        cdef Py_ssize_t flen, vlen
        self._check(n)
        if n == 0:
            return self._dispatch(out)
        if p[0] == b':':
            return 0
        colon = <const char*>memchr(p, b':', n)
        if colon == NULL:
            flen = n
            v = p + n
            vlen = 0
        else:
            flen = colon - p
            v = colon + 1
            vlen = n - flen - 1
            if vlen > 0 and v[0] == b' ':
                v += 1
                vlen -= 1
        if flen == 4 and memcmp(p, b"data", 4) == 0:
            if self._has_data:
                _buf_put(&self._data, b"\n", 1)
            _buf_put(&self._data, v, vlen)
            self._has_data = True
        elif flen == 5 and memcmp(p, b"event", 5) == 0:
            self._event.len = 0
            _buf_put(&self._event, v, vlen)
        return 0

    def feed(self, bytes chunk not None):
        cdef const char* p = PyBytes_AS_STRING(chunk)
        cdef const char* end = p + PyBytes_GET_SIZE(chunk)
        cdef const char* nl
        cdef const char* cr = NULL  # next \r at or after p; NULL = not searched yet
        cdef const char* t
        cdef bint no_cr = False
        cdef Py_ssize_t n
        cdef list out = []
        if self._broken:
            raise ValueError(_BROKEN)
        if self._skip_lf and p < end:
            self._skip_lf = False
            if p[0] == b'\n':
                p += 1
        while p < end:
            # Earliest terminator: memchr for \n, and a cached memchr for \r so an LF-only
            # stream (OpenAI, Anthropic) costs one extra scan per chunk, not per line.
            nl = <const char*>memchr(p, b'\n', end - p)
            if not no_cr and (cr == NULL or cr < p):
                cr = <const char*>memchr(p, b'\r', end - p)
                if cr == NULL:
                    no_cr = True
            if no_cr:
                t = nl
            elif nl == NULL or cr < nl:
                t = cr
            else:
                t = nl
            if t == NULL:
                self._check(self._line.len + (end - p))
                _buf_put(&self._line, p, end - p)
                break
            if self._line.len:
                self._check(self._line.len + (t - p))
                _buf_put(&self._line, p, t - p)
                # Reset before processing: _process may raise, and the line is consumed.
                n = self._line.len
                self._line.len = 0
                self._process(self._line.ptr, n, out)
            else:
                self._process(p, t - p, out)
            if t[0] == b'\r':
                if t + 1 < end:
                    p = t + 2 if t[1] == b'\n' else t + 1
                else:
                    self._skip_lf = True
                    p = t + 1
            else:
                p = t + 1
        return out

    def flush(self):
        cdef list out = []
        cdef Py_ssize_t n
        if self._broken:
            raise ValueError(_BROKEN)
        if self._line.len:
            n = self._line.len
            self._line.len = 0
            self._process(self._line.ptr, n, out)
        self._dispatch(out)
        self._skip_lf = False
        return out


# ------------------------------------------------------------------------------------------
# Usage accounting

cdef inline Py_ssize_t _skip_ws(const char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and (p[i] == b' ' or p[i] == b'\t' or p[i] == b'\r' or p[i] == b'\n'):
        i += 1
    return i


cdef Py_ssize_t _find(const char* p, Py_ssize_t n, const char* key, Py_ssize_t klen,
                      Py_ssize_t start, Py_ssize_t anchor) noexcept:
    # Portable memmem: memchr for key[anchor], then compare the whole key. Anchoring on a
    # byte that is rare in JSON (the "g" of "usage") instead of the opening quote skips the
    # ~40 quotes of a typical chunk, roughly halving the per-event scan.
    cdef const char* q
    cdef const char* last
    if klen > n - start:
        return -1
    q = p + start + anchor
    last = p + n - klen + anchor
    while q <= last:
        q = <const char*>memchr(q, key[anchor], last - q + 1)
        if q == NULL:
            return -1
        if memcmp(q - anchor, key, klen) == 0:
            return q - anchor - p
        q += 1
    return -1


cdef bint _key_value_starts(const char* p, Py_ssize_t n, const char* key, Py_ssize_t klen,
                            Py_ssize_t anchor, char first, char not_next) noexcept:
    cdef Py_ssize_t i = _find(p, n, key, klen, 0, anchor)
    cdef Py_ssize_t j
    while i >= 0:
        j = _skip_ws(p, i + klen, n)
        if j < n and p[j] == b':':
            j = _skip_ws(p, j + 1, n)
            if j < n and p[j] == first and (not_next == 0 or (j + 1 < n and p[j + 1] != not_next)):
                return True
        i = _find(p, n, key, klen, i + klen, anchor)
    return False


cdef bint _has_openai_output(const char* p, Py_ssize_t n) noexcept:
    return (
        _key_value_starts(p, n, b'"content"', 9, 1, b'"', b'"')
        or _key_value_starts(p, n, b'"tool_calls"', 12, 6, b'[', b']')
        or _key_value_starts(p, n, b'"reasoning_content"', 19, 9, b'"', b'"')
        or _key_value_starts(p, n, b'"reasoning"', 11, 9, b'"', b'"')
        or _key_value_starts(p, n, b'"refusal"', 9, 6, b'"', b'"')
    )


cdef inline bint _tok(object v):
    return type(v) is int and 0 <= v <= _INT64_MAX


cdef bint _is_done(const char* p, Py_ssize_t n) noexcept:
    # data.strip() == b"[DONE]" using bytes.strip()'s ASCII whitespace set.
    cdef Py_ssize_t i = 0
    while i < n and (p[i] == b' ' or p[i] == b'\t' or p[i] == b'\n' or p[i] == b'\r'
                     or p[i] == b'\x0b' or p[i] == b'\x0c'):
        i += 1
    while n > i and (p[n - 1] == b' ' or p[n - 1] == b'\t' or p[n - 1] == b'\n' or p[n - 1] == b'\r'
                     or p[n - 1] == b'\x0b' or p[n - 1] == b'\x0c'):
        n -= 1
    return n - i == 6 and memcmp(p + i, b"[DONE]", 6) == 0


cdef class UsageAccumulator:
    cdef readonly int fmt
    cdef readonly long long input_tokens
    cdef readonly long long output_tokens
    cdef readonly long long cache_read_tokens
    cdef readonly long long cache_write_tokens
    cdef readonly long long reasoning_tokens
    cdef readonly object model
    cdef readonly Py_ssize_t malformed
    cdef readonly Py_ssize_t events
    cdef readonly bint first_token_seen

    def __cinit__(self, int fmt):
        if fmt != _FMT_OPENAI and fmt != _FMT_ANTHROPIC:
            raise ValueError(f"unknown usage format {fmt!r}")
        self.fmt = fmt
        self.model = None

    # Summed as Python ints: each count fits int64 but the sum need not (the twin never wraps).
    cpdef object total_input_tokens(self):
        if self.fmt == _FMT_ANTHROPIC:
            return <object>self.input_tokens + <object>self.cache_read_tokens + <object>self.cache_write_tokens
        return <object>self.input_tokens

    cpdef object total_tokens(self):
        return self.total_input_tokens() + <object>self.output_tokens

    def feed_event(self, bytes data not None):
        cdef const char* p = PyBytes_AS_STRING(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef Py_ssize_t i = _skip_ws(p, 0, n)
        if i == n or p[i] != b'{':
            if not _is_done(p, n):
                self.events += 1
                self.malformed += 1
            return
        self.events += 1
        if not self.first_token_seen:
            if self.fmt == _FMT_ANTHROPIC:
                self.first_token_seen = _find(p, n, b'"content_block_delta"', 21, 0, 13) >= 0
            else:
                self.first_token_seen = _has_openai_output(p, n)
        self._scan(data, p, n)

    def feed_body(self, bytes body not None):
        cdef const char* p = PyBytes_AS_STRING(body)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
        cdef Py_ssize_t i = _skip_ws(p, 0, n)
        if i == n or p[i] != b'{':
            self.malformed += 1
            return
        self._scan(body, p, n)

    cdef int _scan(self, bytes data, const char* p, Py_ssize_t n) except -1:
        if not (_key_value_starts(p, n, b'"usage"', 7, 4, b'{', 0)
                or (self.model is None and _find(p, n, b'"model"', 7, 0, 3) >= 0)):
            return 0
        try:
            obj = _loads(data)
        except _JSONDecodeError:
            self.malformed += 1
            return 0
        if type(obj) is not dict:
            self.malformed += 1
            return 0
        if self.fmt == _FMT_ANTHROPIC:
            self._apply_anthropic(<dict>obj)
        else:
            self._apply_openai(<dict>obj)
        return 0

    cdef int _apply_openai(self, dict obj) except -1:
        cdef object v, u, d, m
        if self.model is None:
            m = obj.get("model")
            if type(m) is str and m:
                self.model = m
        u = obj.get("usage")
        if type(u) is not dict:
            return 0
        v = (<dict>u).get("prompt_tokens")
        if _tok(v):
            self.input_tokens = v
        v = (<dict>u).get("completion_tokens")
        if _tok(v):
            self.output_tokens = v
        d = (<dict>u).get("prompt_tokens_details")
        if type(d) is dict:
            v = (<dict>d).get("cached_tokens")
            if _tok(v):
                self.cache_read_tokens = v
            v = (<dict>d).get("cache_write_tokens")
            if _tok(v):
                self.cache_write_tokens = v
        d = (<dict>u).get("completion_tokens_details")
        if type(d) is dict:
            v = (<dict>d).get("reasoning_tokens")
            if _tok(v):
                self.reasoning_tokens = v
        return 0

    cdef int _apply_anthropic(self, dict obj) except -1:
        cdef object v, u, m
        cdef object src = obj.get("message")
        if type(src) is not dict:
            src = obj
        if self.model is None:
            m = (<dict>src).get("model")
            if type(m) is str and m:
                self.model = m
        u = (<dict>src).get("usage")
        if type(u) is not dict:
            return 0
        v = (<dict>u).get("input_tokens")
        if _tok(v):
            self.input_tokens = v
        v = (<dict>u).get("output_tokens")
        if _tok(v):
            self.output_tokens = v
        v = (<dict>u).get("cache_read_input_tokens")
        if _tok(v):
            self.cache_read_tokens = v
        v = (<dict>u).get("cache_creation_input_tokens")
        if _tok(v):
            self.cache_write_tokens = v
        return 0


# ------------------------------------------------------------------------------------------
# Local rate limit

cdef class TokenBucket:
    cdef readonly long long max_tokens
    cdef readonly long long tokens_per_fill
    cdef readonly double fill_interval
    cdef long long _tokens
    cdef double _refill_at

    def __cinit__(self, long long max_tokens, long long tokens_per_fill, double fill_interval,
                  double now):
        if max_tokens < 0 or tokens_per_fill < 0:
            raise ValueError("max_tokens and tokens_per_fill must be >= 0")
        if tokens_per_fill > max_tokens:
            raise ValueError("tokens_per_fill must not exceed max_tokens")
        if not (fill_interval > 0.0 and isfinite(fill_interval)):
            raise ValueError("fill_interval must be a positive, finite number of seconds")
        self.max_tokens = max_tokens
        self.tokens_per_fill = tokens_per_fill
        self.fill_interval = fill_interval
        self._tokens = max_tokens
        self._refill_at = now + fill_interval

    @property
    def next_fill_at(self):
        return self._refill_at

    cdef inline void _refill(self, double now) noexcept:
        cdef double intervals
        cdef long long deficit
        if now < self._refill_at:
            return
        intervals = floor((now - self._refill_at) / self.fill_interval) + 1.0
        self._refill_at += intervals * self.fill_interval
        deficit = self.max_tokens - self._tokens
        if deficit > 0:
            # Compared in double first so intervals * tokens_per_fill cannot overflow int64.
            if intervals * <double>self.tokens_per_fill >= <double>deficit:
                self._tokens = self.max_tokens
            else:
                self._tokens += <long long>intervals * self.tokens_per_fill

    cpdef bint try_acquire(self, long long n, double now) except -1:
        if n < 0:
            raise ValueError("n must be >= 0")
        if n == 0 or n > self.max_tokens:
            return False
        self._refill(now)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    cpdef bint acquire_at_least_one(self, double now):
        self._refill(now)
        return self._tokens >= 1

    cpdef void debit(self, long long n, double now):
        cdef long long room
        if n >= 0:
            self._tokens = self._tokens - n if self._tokens > n else 0
        else:
            room = self.max_tokens - self._tokens
            self._tokens = self.max_tokens if n <= -room else self._tokens - n

    cpdef long long remaining(self, double now):
        self._refill(now)
        return self._tokens

    cpdef double reset_after(self, double now):
        cdef double r
        self._refill(now)
        r = self._refill_at - now
        return r if r > 0.0 else 0.0


# ------------------------------------------------------------------------------------------
# Header lists

cdef bytes _lower(bytes k):
    """k lower-cased (ASCII only, as bytes.lower); k itself when it has no upper-case letter."""
    cdef const char* p = PyBytes_AS_STRING(k)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(k)
    cdef Py_ssize_t i
    cdef bytes out
    cdef char* q
    for i in range(n):
        if b'A' <= p[i] <= b'Z':
            break
    else:
        return k
    # A fresh object (NULL source): CPython hands out shared singletons for 1-byte strings it copies.
    out = PyBytes_FromStringAndSize(NULL, n)
    q = PyBytes_AS_STRING(out)
    memcpy(q, p, n)
    for i in range(i, n):
        if b'A' <= q[i] <= b'Z':
            q[i] = q[i] + 32
    return out


def response_headers(raw, frozenset drop not None):
    cdef list out = []
    cdef bytes name
    for k, v in raw:
        name = _lower(<bytes?>k)
        if name not in drop:
            out.append((name, v))
    return out


def latin1_headers(list headers not None):
    cdef list out = []
    cdef bytes k, v
    for k, v in headers:
        out.append((PyUnicode_DecodeLatin1(PyBytes_AS_STRING(k), PyBytes_GET_SIZE(k), NULL),
                    PyUnicode_DecodeLatin1(PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v), NULL)))
    return out


# ------------------------------------------------------------------------------------------
# PII scanner (kept in its own file so this module stays readable)

include "_fastpath_pii.pxi"
