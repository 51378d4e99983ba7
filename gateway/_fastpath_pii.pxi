# PII scanner, compiled twin of gateway/pii_py.py (the reference; see its docstring for the
# rules). Included by _fastpath.pyx. Reads the str's code points in place (no copies, no
# per-character objects); recognizers mirror the Python functions one for one.

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index) nogil
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch) nogil
    bint Py_UNICODE_ISDIGIT(Py_UCS4 ch) nogil

PII_SSN = 1
PII_CREDIT_CARD = 2
PII_PHONE = 4
PII_EMAIL = 8
PII_CA_SIN = 16
PII_ALL = 31
PII_KIND_COUNT = 5

cdef enum:
    _K_SSN = 1
    _K_CARD = 2
    _K_PHONE = 4
    _K_EMAIL = 8
    _K_SIN = 16
    _MAX_GROUPS = 8


cdef struct _Txt:
    int kind
    void* data
    Py_ssize_t n


cdef struct _Groups:
    Py_ssize_t b[16]   # start, end of each digit group
    Py_UCS4 sep[8]     # separator after group g
    int ng


cdef inline Py_UCS4 _at(_Txt* t, Py_ssize_t i) noexcept nogil:
    return PyUnicode_READ(t.kind, t.data, i)


cdef inline bint _isdig(Py_UCS4 c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint _isalpha_ascii(Py_UCS4 c) noexcept nogil:
    return (65 <= c <= 90) or (97 <= c <= 122)


cdef inline bint _isword(Py_UCS4 c) noexcept nogil:
    if c < 128:
        return _isdig(c) or _isalpha_ascii(c) or c == 95
    return Py_UNICODE_ISALNUM(c)


cdef inline bint _islocal(Py_UCS4 c) noexcept nogil:
    return _isdig(c) or _isalpha_ascii(c) or c == 46 or c == 95 or c == 37 or c == 43 or c == 45


cdef inline bint _islabel(Py_UCS4 c) noexcept nogil:
    return _isdig(c) or _isalpha_ascii(c) or c == 45


cdef inline bint _isnumsep(Py_UCS4 c) noexcept nogil:
    return c == 32 or c == 45 or c == 46  # space, dash, dot


cdef inline bint _left_ok(_Txt* t, Py_ssize_t i) noexcept nogil:
    cdef Py_UCS4 p
    if i == 0:
        return True
    p = _at(t, i - 1)
    if _isword(p):
        return False
    return not ((p == 45 or p == 46) and i >= 2 and Py_UNICODE_ISDIGIT(_at(t, i - 2)))


cdef inline bint _right_ok(_Txt* t, Py_ssize_t e) noexcept nogil:
    cdef Py_UCS4 c
    if e >= t.n:
        return True
    c = _at(t, e)
    if _isword(c):
        return False
    return not ((c == 45 or c == 46) and e + 1 < t.n and Py_UNICODE_ISDIGIT(_at(t, e + 1)))


cdef void _groups(_Txt* t, Py_ssize_t i, _Groups* g) noexcept nogil:
    cdef Py_ssize_t j = i, s
    g.ng = 0
    while True:
        s = j
        while j < t.n and _isdig(_at(t, j)):
            j += 1
        g.b[2 * g.ng] = s
        g.b[2 * g.ng + 1] = j
        g.ng += 1
        if g.ng >= _MAX_GROUPS or j + 1 >= t.n or not _isnumsep(_at(t, j)) or not _isdig(_at(t, j + 1)):
            return
        g.sep[g.ng - 1] = _at(t, j)
        j += 1


cdef inline Py_ssize_t _size(_Groups* g, int k) noexcept nogil:
    return g.b[2 * k + 1] - g.b[2 * k]


cdef inline bint _end_ok(_Txt* t, _Groups* g, int k) noexcept nogil:
    if k < g.ng:
        return g.sep[k - 1] == 32
    return _right_ok(t, g.b[2 * k - 1])


cdef bint _luhn(_Txt* t, _Groups* g, int k) noexcept nogil:
    cdef int total = 0, d, grp
    cdef bint double = False
    cdef Py_ssize_t j
    for grp in range(k - 1, -1, -1):
        j = g.b[2 * grp + 1] - 1
        while j >= g.b[2 * grp]:
            d = <int>_at(t, j) - 48
            if double:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
            double = not double
            j -= 1
    return total % 10 == 0


cdef long _prefix(_Txt* t, _Groups* g, int count) noexcept nogil:
    """The first `count` digits of the groups as a number (count <= digits available)."""
    cdef long v = 0
    cdef int grp = 0, taken = 0
    cdef Py_ssize_t j
    while taken < count:
        j = g.b[2 * grp]
        while j < g.b[2 * grp + 1] and taken < count:
            v = v * 10 + (<long>_at(t, j) - 48)
            taken += 1
            j += 1
        grp += 1
    return v


cdef bint _issuer_ok(_Txt* t, _Groups* g, Py_ssize_t n) noexcept nogil:
    cdef long p2 = _prefix(t, g, 2), p3 = _prefix(t, g, 3), p4 = _prefix(t, g, 4), p6 = _prefix(t, g, 6)
    if p2 // 10 == 4:
        return n == 13 or n == 16 or n == 19
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 == 34 or p2 == 37:
        return n == 15
    if 300 <= p3 <= 305 or p2 == 36 or p2 == 38 or p2 == 39 or p3 == 309:
        return 14 <= n <= 19
    if 3528 <= p4 <= 3589 or p4 == 6011 or 644 <= p3 <= 649 or p2 == 62 or p2 == 65:
        return n >= 16
    if p2 == 50 or 56 <= p2 <= 58 or p4 == 6304 or p4 == 6759 or p6 == 676770 or p6 == 676774:
        return n >= 13
    return False


cdef Py_ssize_t _card(_Txt* t, _Groups* g) noexcept nogil:
    cdef int k, q
    cdef Py_ssize_t total, s
    cdef bint shape
    for k in range(g.ng, 0, -1):
        total = 0
        shape = True
        for q in range(k):
            s = _size(g, q)
            total += s
            if k > 1 and (s < 3 or s > 6):
                shape = False
        if total < 13 or total > 19:
            continue
        if k > 1:
            if g.sep[0] != 32 and g.sep[0] != 45:
                shape = False
            for q in range(k - 1):
                if g.sep[q] != g.sep[0]:
                    shape = False
        if not shape or not _end_ok(t, g, k):
            continue
        if _luhn(t, g, k) and _issuer_ok(t, g, total):
            return g.b[2 * k - 1]
    return -1


cdef inline bint _sep_pair(_Groups* g) noexcept nogil:
    return (g.sep[0] == 32 or g.sep[0] == 45) and g.sep[1] == g.sep[0]


cdef Py_ssize_t _ssn(_Txt* t, _Groups* g) noexcept nogil:
    cdef long area, grp, serial
    if g.ng < 3 or _size(g, 0) != 3 or _size(g, 1) != 2 or _size(g, 2) != 4 or not _sep_pair(g):
        return -1
    if not _end_ok(t, g, 3):
        return -1
    area = _prefix(t, g, 3)
    grp = _prefix(t, g, 5) % 100
    serial = _prefix(t, g, 9) % 10000
    if area == 0 or area == 666 or area >= 900 or grp == 0 or serial == 0:
        return -1
    return g.b[5]


cdef Py_ssize_t _sin(_Txt* t, _Groups* g) noexcept nogil:
    cdef int k
    cdef long first
    if g.ng >= 3 and _size(g, 0) == 3 and _size(g, 1) == 3 and _size(g, 2) == 3 and _sep_pair(g):
        k = 3
    elif _size(g, 0) == 9:
        k = 1
    else:
        return -1
    if not _end_ok(t, g, k):
        return -1
    first = _prefix(t, g, 1)
    if (k == 1 and (first == 0 or first == 8)) or not _luhn(t, g, k):
        return -1
    return g.b[2 * k - 1]


cdef inline Py_ssize_t _run(_Txt* t, Py_ssize_t j, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t q
    if j + count > t.n:
        return -1
    for q in range(j, j + count):
        if not _isdig(_at(t, q)):
            return -1
    return j + count


cdef Py_ssize_t _nanp(_Txt* t, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t j = i, area, exchange
    if j + 1 < t.n and _at(t, j) == 49 and _isnumsep(_at(t, j + 1)):
        j += 2
    if j < t.n and _at(t, j) == 40:  # (
        area = j + 1
        j = _run(t, j + 1, 3)
        if j < 0 or j >= t.n or _at(t, j) != 41:
            return -1
        j += 1
        if j < t.n and _at(t, j) == 32:
            j += 1
    else:
        area = j
        j = _run(t, j, 3)
        if j < 0 or j >= t.n or not _isnumsep(_at(t, j)):
            return -1
        j += 1
    exchange = j
    j = _run(t, j, 3)
    if j < 0 or j >= t.n or not _isnumsep(_at(t, j)):
        return -1
    j = _run(t, j + 1, 4)
    if j < 0 or _at(t, area) < 50 or _at(t, exchange) < 50 or not _right_ok(t, j):
        return -1
    return j


cdef Py_ssize_t _intl(_Txt* t, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t j, total = 0
    cdef Py_UCS4 c2
    cdef _Groups g
    cdef int q
    if i + 1 >= t.n or not _isdig(_at(t, i + 1)) or _at(t, i + 1) == 48:
        return -1
    if _at(t, i + 1) == 49 and i + 2 < t.n:
        c2 = _at(t, i + 2)
        if _isnumsep(c2) or c2 == 40:
            j = _nanp(t, i + 2 if c2 == 40 else i + 1)
            if j >= 0:
                return j
    _groups(t, i + 1, &g)
    for q in range(g.ng):
        total += _size(&g, q)
    if total < 8 or total > 15 or not _right_ok(t, g.b[2 * g.ng - 1]):
        return -1
    return g.b[2 * g.ng - 1]


cdef Py_ssize_t _email(_Txt* t, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t j = i, k, s, last, q
    cdef int labels = 0
    while j < t.n and _islocal(_at(t, j)):
        j += 1
    if j >= t.n or _at(t, j) != 64 or j - i > 64 or _at(t, i) == 46 or _at(t, j - 1) == 46:
        return -1
    k = j + 1
    last = k
    while True:
        s = k
        while k < t.n and _islabel(_at(t, k)):
            k += 1
        if k == s:
            break
        labels += 1
        last = s
        if k + 1 < t.n and _at(t, k) == 46 and _islabel(_at(t, k + 1)):
            k += 1
            continue
        break
    if labels < 2 or k - j > 255 or k - last < 2 or not _right_ok(t, k):
        return -1
    for q in range(last, k):
        if not _isalpha_ascii(_at(t, q)):
            return -1
    return k


cdef Py_ssize_t _numeric(_Txt* t, Py_ssize_t i, int kinds, int* kind) noexcept nogil:
    cdef Py_UCS4 c = _at(t, i)
    cdef Py_ssize_t e
    cdef _Groups g
    if c == 43 or c == 40:  # + (
        if not kinds & _K_PHONE:
            return -1
        kind[0] = _K_PHONE
        return _intl(t, i) if c == 43 else _nanp(t, i)
    _groups(t, i, &g)
    if kinds & _K_CARD:
        e = _card(t, &g)
        if e >= 0:
            kind[0] = _K_CARD
            return e
    if kinds & _K_SSN:
        e = _ssn(t, &g)
        if e >= 0:
            kind[0] = _K_SSN
            return e
    if kinds & _K_SIN:
        e = _sin(t, &g)
        if e >= 0:
            kind[0] = _K_SIN
            return e
    if kinds & _K_PHONE:
        e = _nanp(t, i)
        if e >= 0:
            kind[0] = _K_PHONE
            return e
    return -1


cdef Py_ssize_t _find_at(_Txt* t, Py_ssize_t i) noexcept nogil:
    while i < t.n and _at(t, i) != 64:
        i += 1
    return i


cdef Py_ssize_t _next_match(_Txt* t, Py_ssize_t i, int kinds, Py_ssize_t* start, int* kind,
                            Py_ssize_t* next_at) noexcept nogil:
    """End of the first entity at or after i (its start and kind via pointers), or -1.

    `next_at` caches the position of the next "@" (t.n when none): an email's local part runs
    from its start straight to that "@", so token starts further than 64 characters before it
    (nearly all words of prose) are skipped without scanning them; same results as pii_py.
    """
    cdef Py_UCS4 c, p
    cdef Py_ssize_t e
    cdef bint numeric = (kinds & (_K_SSN | _K_CARD | _K_PHONE | _K_SIN)) != 0
    cdef bint email = (kinds & _K_EMAIL) != 0
    while i < t.n:
        c = _at(t, i)
        e = -1
        if email and next_at[0] < i:
            next_at[0] = _find_at(t, i)
        if email and next_at[0] < t.n and next_at[0] - i <= 64 and _islocal(c):
            p = _at(t, i - 1) if i > 0 else 32
            if i == 0 or (not _islocal(p) and not _isword(p)):
                e = _email(t, i)
                kind[0] = _K_EMAIL
        if e < 0 and numeric and (_isdig(c) or c == 43 or c == 40) and _left_ok(t, i):
            e = _numeric(t, i, kinds, kind)
        if e >= 0:
            start[0] = i
            return e
        i += 1
    return -1


cdef inline void _txt_init(_Txt* t, str text):
    t.kind = PyUnicode_KIND(text)
    t.data = PyUnicode_DATA(text)
    t.n = len(text)


def scan_pii(str text, int kinds):
    cdef _Txt t
    cdef Py_ssize_t i = 0, start = 0, e, next_at = -1
    cdef int kind = 0
    cdef list out = []
    _txt_init(&t, text)
    while True:
        e = _next_match(&t, i, kinds, &start, &kind, &next_at)
        if e < 0:
            return out
        out.append((start, e, kind))
        i = e


def mask_pii(str text, int kinds, labels):
    cdef _Txt t
    cdef Py_ssize_t i = 0, start = 0, e, next_at = -1
    cdef int kind = 0, idx
    cdef list counts = [0, 0, 0, 0, 0]
    cdef list parts = []
    _txt_init(&t, text)
    while True:
        e = _next_match(&t, i, kinds, &start, &kind, &next_at)
        if e < 0:
            break
        idx = 0
        while (1 << idx) != kind:
            idx += 1
        counts[idx] += 1
        parts.append(text[i:start])
        parts.append(labels[idx])
        i = e
    if not parts:
        return text, counts
    parts.append(text[i:])
    return "".join(parts), counts
