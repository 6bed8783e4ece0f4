"""ICAO 9303 Part 3 check digits: weights 7, 3, 1 repeating, modulo 10."""

from __future__ import annotations

#: The MRZ alphabet: digits, upper-case Latin letters and the filler '<'.
MRZ_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<")

_WEIGHTS = (7, 3, 1)


def char_value(c: str) -> int:
    """Digits count as themselves, A-Z as 10-35, the filler as 0."""
    if "0" <= c <= "9":
        return ord(c) - 48
    if "A" <= c <= "Z":
        return ord(c) - 55
    if c == "<":
        return 0
    raise ValueError(f"{c!r} is not in the MRZ alphabet")


def check_digit(data: str) -> str:
    """The check digit of ``data`` as a one-character string."""
    return str(sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data)) % 10)


def is_valid(data: str, digit: str, *, filler_ok: bool = False) -> bool:
    """True when ``digit`` is the check digit of ``data``.

    ``filler_ok``: ICAO lets an optional field that is entirely filler carry '<' as its
    check digit (TD3 personal number), which counts as valid.
    """
    if filler_ok and digit == "<" and set(data) <= {"<"}:
        return True
    try:
        return check_digit(data) == digit
    except ValueError:
        return False
