"""PII scanner, pure-Python reference; the compiled twin is ``gateway/_fastpath_pii.pxi``.

Re-exported by ``gateway.fastpath_py``; import it through ``gateway.fastpath``.

One left-to-right pass; at each position that can start an entity the recognizers are tried
in a fixed order (email, credit card, SSN, Canadian SIN, phone) and the first match wins, so
results are sorted and never overlap. Only ASCII digits form numbers; any other Unicode
letter or digit counts as a word character, so a match never starts or ends inside a word or a
longer number (``x123-45-6789``, ``123-45-67890`` and ``1-123-45-6789`` find nothing).

Validation beyond the shape (what a bare regex cannot do):

* credit card: 13-19 digits, bare or in groups of 3-6 separated by one repeated space or dash,
  a Luhn checksum and a known issuer prefix/length (Visa, Mastercard, Amex, Discover, Diners,
  JCB, UnionPay, Maestro);
* SSN: ``ddd-dd-dddd`` or ``ddd dd dddd``, area not 000/666/9xx, group not 00, serial not
  0000. Bare nine-digit SSNs are not matched: about 89% of all nine-digit numbers (order ids,
  phone extensions...) are valid SSNs, so the false-positive rate could not be kept low;
* Canadian SIN: ``ddd-ddd-ddd`` or ``ddd ddd ddd`` with a Luhn checksum, or nine bare digits
  with a Luhn checksum whose first digit is not 0 or 8;
* phone: NANP ``(ddd) ddd-dddd``, ``ddd-ddd-dddd``, ``ddd.ddd.dddd``, ``ddd ddd dddd``, with
  an optional ``1``/``+1`` prefix (area code and exchange start with 2-9); international
  ``+<country code> <groups>`` with 8-15 digits. Bare 10-digit runs are not phones (they are
  mostly Unix timestamps and ids);
* email: ASCII local part (``A-Za-z0-9._%+-``, at most 64, no leading/trailing dot), domain of
  at least two labels ending in an alphabetic TLD of two or more letters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PII_SSN = 1
PII_CREDIT_CARD = 2
PII_PHONE = 4
PII_EMAIL = 8
PII_CA_SIN = 16
PII_ALL = 31
PII_KIND_COUNT = 5

_MAX_GROUPS = 8
_DIGITS = "0123456789"
_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# A possible number start: `\w` is exactly `_word` (str.isalnum() or "_"), the first half of _left_ok.
_NUM_START = re.compile(r"(?<!\w)[0-9+(]")


def _word(c: str) -> bool:
    return c == "_" or c.isalnum()


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


def _left_ok(text: str, i: int) -> bool:
    """No word character before, and not the continuation of a number (``12-``, ``3.``)."""
    if i == 0:
        return True
    p = text[i - 1]
    if _word(p):
        return False
    return not (p in "-." and i >= 2 and text[i - 2].isdigit())


def _right_ok(text: str, e: int, n: int) -> bool:
    if e >= n:
        return True
    c = text[e]
    if _word(c):
        return False
    return not (c in "-." and e + 1 < n and text[e + 1].isdigit())


def _luhn(digits: str) -> bool:
    total = 0
    double = False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return total % 10 == 0


def _issuer_ok(d: str, n: int) -> bool:
    p2 = int(d[:2])
    p3 = int(d[:3])
    p4 = int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if 300 <= p3 <= 305 or p2 in (36, 38, 39) or p3 == 309:
        return 14 <= n <= 19
    if 3528 <= p4 <= 3589 or p4 == 6011 or 644 <= p3 <= 649 or p2 in (62, 65):
        return n >= 16
    if p2 in (50, 56, 57, 58) or p4 in (6304, 6759) or int(d[:6]) in (676770, 676774):
        return n >= 13
    return False


def _groups(text: str, i: int, n: int) -> tuple[list[int], list[str]]:
    """Boundaries [s0, e0, s1, e1, ...] of digit groups joined by one space, dash or dot."""
    bounds: list[int] = []
    seps: list[str] = []
    j = i
    while True:
        s = j
        while j < n and _digit(text[j]):
            j += 1
        bounds += (s, j)
        if len(bounds) >= 2 * _MAX_GROUPS or j + 1 >= n or text[j] not in " -." or not _digit(text[j + 1]):
            return bounds, seps
        seps.append(text[j])
        j += 1


def _end_ok(text: str, bounds: list[int], seps: list[str], k: int, n: int) -> bool:
    """Can a match end after group k-1? Inside a longer run only at a space."""
    if 2 * k < len(bounds):
        return seps[k - 1] == " "
    return _right_ok(text, bounds[2 * k - 1], n)


def _sizes(bounds: list[int], k: int) -> list[int]:
    return [bounds[2 * g + 1] - bounds[2 * g] for g in range(k)]


def _digits_of(text: str, bounds: list[int], k: int) -> str:
    return "".join(text[bounds[2 * g]:bounds[2 * g + 1]] for g in range(k))


def _card(text: str, bounds: list[int], seps: list[str], n: int) -> int:
    ng = len(bounds) // 2
    for k in range(ng, 0, -1):
        sizes = _sizes(bounds, k)
        total = sum(sizes)
        if total < 13 or total > 19:
            continue
        if k > 1 and (any(s < 3 or s > 6 for s in sizes) or seps[0] not in " -"
                      or any(seps[g] != seps[0] for g in range(k - 1))):
            continue
        if not _end_ok(text, bounds, seps, k, n):
            continue
        digits = _digits_of(text, bounds, k)
        if _luhn(digits) and _issuer_ok(digits, total):
            return bounds[2 * k - 1]
    return -1


def _ssn(text: str, bounds: list[int], seps: list[str], n: int) -> int:
    if len(bounds) < 6 or _sizes(bounds, 3) != [3, 2, 4] or seps[0] not in " -" or seps[1] != seps[0]:
        return -1
    if not _end_ok(text, bounds, seps, 3, n):
        return -1
    d = _digits_of(text, bounds, 3)
    area = d[:3]
    if area in ("000", "666") or area[0] == "9" or d[3:5] == "00" or d[5:] == "0000":
        return -1
    return bounds[5]


def _sin(text: str, bounds: list[int], seps: list[str], n: int) -> int:
    if len(bounds) >= 6 and _sizes(bounds, 3) == [3, 3, 3] and seps[0] in " -" and seps[1] == seps[0]:
        k = 3
    elif bounds[1] - bounds[0] == 9:
        k = 1
    else:
        return -1
    if not _end_ok(text, bounds, seps, k, n):
        return -1
    d = _digits_of(text, bounds, k)
    # 0 and 8 are unassigned first digits; checked on bare runs only, where false positives matter most
    # (046 454 286 is the documented sample SIN).
    if (k == 1 and d[0] in "08") or not _luhn(d):
        return -1
    return bounds[2 * k - 1]


def _run(text: str, j: int, n: int, count: int) -> int:
    """j + count if text[j:j+count] is all ASCII digits, else -1."""
    if j + count > n:
        return -1
    for q in range(j, j + count):
        if not _digit(text[q]):
            return -1
    return j + count


def _nanp(text: str, i: int, n: int) -> int:
    """(ddd) ddd-dddd / ddd-ddd-dddd / ddd.ddd.dddd / ddd ddd dddd, optional leading ``1 ``."""
    j = i
    if j + 1 < n and text[j] == "1" and text[j + 1] in " -.":
        j += 2
    if j < n and text[j] == "(":
        area = j + 1
        j = _run(text, j + 1, n, 3)
        if j < 0 or j >= n or text[j] != ")":
            return -1
        j += 1
        if j < n and text[j] == " ":
            j += 1
    else:
        area = j
        j = _run(text, j, n, 3)
        if j < 0 or j >= n or text[j] not in " -.":
            return -1
        j += 1
    exchange = j
    j = _run(text, j, n, 3)
    if j < 0 or j >= n or text[j] not in " -.":
        return -1
    j = _run(text, j + 1, n, 4)
    if j < 0 or text[area] < "2" or text[exchange] < "2" or not _right_ok(text, j, n):
        return -1
    return j


def _intl(text: str, i: int, n: int) -> int:
    """+<country code><groups>: 8-15 digits, groups joined by one space, dash or dot."""
    if i + 1 >= n or not _digit(text[i + 1]) or text[i + 1] == "0":
        return -1
    if text[i + 1] == "1" and i + 2 < n and text[i + 2] in " -.(":
        # "+1 555 ..." reuses the "1 " prefix of _nanp; "+1(555) ..." starts at the parenthesis.
        j = _nanp(text, i + 2 if text[i + 2] == "(" else i + 1, n)
        if j >= 0:
            return j
    bounds, _seps = _groups(text, i + 1, n)
    ng = len(bounds) // 2
    total = sum(_sizes(bounds, ng))
    if total < 8 or total > 15 or not _right_ok(text, bounds[-1], n):
        return -1
    return bounds[-1]


def _email(text: str, i: int, n: int) -> int:
    j = i
    while j < n and text[j] in _LOCAL:
        j += 1
    if j >= n or text[j] != "@" or j - i > 64 or text[i] == "." or text[j - 1] == ".":
        return -1
    k = j + 1
    labels = 0
    last = k
    while True:
        s = k
        while k < n and text[k] in _LABEL:
            k += 1
        if k == s:
            break
        labels += 1
        last = s
        if k + 1 < n and text[k] == "." and text[k + 1] in _LABEL:
            k += 1
            continue
        break
    if labels < 2 or k - j > 255 or k - last < 2 or not _right_ok(text, k, n):
        return -1
    for q in range(last, k):
        if text[q] not in _ALPHA:
            return -1
    return k


def _numeric(text: str, i: int, n: int, kinds: int) -> tuple[int, int]:
    c = text[i]
    if c == "+":
        return (_intl(text, i, n), PII_PHONE) if kinds & PII_PHONE else (-1, 0)
    if c == "(":
        return (_nanp(text, i, n), PII_PHONE) if kinds & PII_PHONE else (-1, 0)
    bounds, seps = _groups(text, i, n)
    if kinds & PII_CREDIT_CARD:
        e = _card(text, bounds, seps, n)
        if e >= 0:
            return e, PII_CREDIT_CARD
    if kinds & PII_SSN:
        e = _ssn(text, bounds, seps, n)
        if e >= 0:
            return e, PII_SSN
    if kinds & PII_CA_SIN:
        e = _sin(text, bounds, seps, n)
        if e >= 0:
            return e, PII_CA_SIN
    if kinds & PII_PHONE:
        e = _nanp(text, i, n)
        if e >= 0:
            return e, PII_PHONE
    return -1, 0


def _email_start(text: str, i: int, n: int) -> int:
    """Where the reference loop would try an email at or after i: the start of the local-part run
    that ends at the next "@" (the only token start whose run can reach it); n when none."""
    at = text.find("@", i)
    while at >= 0:
        s = at
        while s > i and at - s <= 64 and text[s - 1] in _LOCAL:
            s -= 1
        if s < at and (s == 0 or (text[s - 1] not in _LOCAL and not _word(text[s - 1]))):
            return s
        at = text.find("@", at + 1)
    return n


def scan_pii(text: str, kinds: int) -> list[tuple[int, int, int]]:
    """Every builtin entity of the `kinds` bitmask: sorted, non-overlapping (start, end, kind).

    Semantically a left-to-right walk trying every position (email first, then numbers); the
    walk jumps between candidate positions (a regex finds number starts, str.find the "@"s).
    """
    out: list[tuple[int, int, int]] = []
    n = len(text)
    i = 0
    numeric = kinds & (PII_SSN | PII_CREDIT_CARD | PII_PHONE | PII_CA_SIN)
    email = n if not kinds & PII_EMAIL else -1
    while i < n:
        if email < i:
            email = _email_start(text, i, n)
        num = n
        if numeric:
            m = _NUM_START.search(text, i, min(n, email + 1))
            num = m.start() if m else n
        p = min(email, num)
        if p >= n:
            break
        e = -1
        kind = 0
        if p == email:
            e, kind = _email(text, p, n), PII_EMAIL
        if e < 0 and p == num and _left_ok(text, p):
            e, kind = _numeric(text, p, n, kinds)
        if e >= 0:
            out.append((p, e, kind))
            i = e
        else:
            i = p + 1
    return out


def mask_pii(text: str, kinds: int, labels: Sequence[str]) -> tuple[str, list[int]]:
    """`text` with each entity replaced by labels[bit index of its kind]; counts per kind index."""
    counts = [0] * PII_KIND_COUNT
    found = scan_pii(text, kinds)
    if not found:
        return text, counts
    parts: list[str] = []
    pos = 0
    for start, end, kind in found:
        idx = kind.bit_length() - 1
        counts[idx] += 1
        parts.append(text[pos:start])
        parts.append(labels[idx])
        pos = end
    parts.append(text[pos:])
    return "".join(parts), counts
