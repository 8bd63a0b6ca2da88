"""Arithmetic as answers write it, computed exactly: numbers with thousands separators, + - * / ^, brackets, n%.

Fractions, not floats, so that 0.1 + 0.2 is 0.3 and a stated result is
compared with the exact value of what it claims to be (maths.py).
"""

from __future__ import annotations

import re
from fractions import Fraction

# A number as answers write it: -$1,234.50, 12%, 3.5, 1/2 is two numbers and a division.
NUM = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+"


def parse_number(text: str) -> Fraction:
    """A number as written ("1,234.5", "-3", ".5") as an exact fraction."""
    return Fraction(text.replace(",", ""))


def evaluate(expression: str) -> Fraction | None:
    """The exact value of an arithmetic expression (+ - * / ^, brackets, n% as n/100), None if it is not one."""
    tokens = re.findall(rf"{NUM}|[-+*/^()%]", expression.replace(" ", ""))
    if "".join(tokens) != expression.replace(" ", ""):
        return None
    try:
        value, rest = _sum(_fix_signs(tokens))
    except (ValueError, ZeroDivisionError, IndexError, OverflowError):
        return None
    return value if not rest else None


def _fix_signs(tokens: list[str]) -> list[str]:
    """Split "5-3" read as [5, -3] back into 5 - 3: a signed number right after a value is a subtraction."""
    fixed: list[str] = []
    for token in tokens:
        if token.startswith("-") and len(token) > 1 and fixed and (fixed[-1][-1].isdigit() or fixed[-1] in ")%"):
            fixed += ["-", token[1:]]
        else:
            fixed.append(token)
    return fixed


def _sum(tokens: list[str]) -> tuple[Fraction, list[str]]:
    value, tokens = _product(tokens)
    while tokens and tokens[0] in "+-":
        op, (right, tokens) = tokens[0], _product(tokens[1:])
        value = value + right if op == "+" else value - right
    return value, tokens


def _product(tokens: list[str]) -> tuple[Fraction, list[str]]:
    value, tokens = _power(tokens)
    while tokens and tokens[0] in "*/":
        op, (right, tokens) = tokens[0], _power(tokens[1:])
        value = value * right if op == "*" else value / right
    return value, tokens


def _power(tokens: list[str]) -> tuple[Fraction, list[str]]:
    base, tokens = _atom(tokens)
    if tokens and tokens[0] == "^":
        exponent, tokens = _power(tokens[1:])
        if exponent.denominator != 1 or abs(exponent) > 64:
            raise ValueError("not a small whole exponent")
        return base ** int(exponent), tokens
    return base, tokens


def _atom(tokens: list[str]) -> tuple[Fraction, list[str]]:
    if tokens[0] == "(":
        value, rest = _sum(tokens[1:])
        if not rest or rest[0] != ")":
            raise ValueError("unbalanced bracket")
        rest = rest[1:]
    elif tokens[0] == "-":
        value, rest = _atom(tokens[1:])
        value = -value
    else:
        value, rest = parse_number(tokens[0]), tokens[1:]
    if rest and rest[0] == "%":
        value, rest = value / 100, rest[1:]
    return value, rest
