"""Word problems: does the working answer the question that was asked?

maths.py checks that the sums an answer shows are right. Real weak models'
answers to GSM8K are mostly wrong in another way: every sum holds, but the
problem was misread. Cheap traces of a misread, each looking at the question
or at how the working hangs together:

- `quantities`: a quantity the question states never enters the working
  ("she eats three for breakfast and bakes muffins with four" worked as
  16 - 3, the four forgotten). Each number, percentage or number word is
  looked for as written or as an equivalent a working would use (60% as 0.6,
  or the 0.4 left; half as 1/2 or a division by 2; a dozen as 12).
- `chain`: a step whose result no later step uses and which is not the
  answer. A sound working is a chain from the question's numbers to the
  answer; a confused one computes things and leaves them lying.
- `steps`: how long the chain is, and how many words it takes. Not a fault, a
  difficulty: more steps are more places to go wrong, hard problems take
  more, and a working that needs many words per step is often lost.
- an impossible answer (maths.py's final-answer check asks `impossible`): a
  count asked with "how many" that comes out negative or as half a bee.

On the public GSM8K answers of four GPT-3 models (evals/gsm8k_labelled.jsonl),
39% of all answers are right; of those that leave a quantity out, 12%; of
those with a step left lying, 9%; of the 13 impossible counts, none.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from proxy.judgment.arithmetic import NUM, parse_number
from proxy.judgment.verdict import Verdict


class Equation(Protocol):
    """What `chain` reads of maths.py's equations (maths.py calls in here, so this names no module of its)."""

    text: str
    value: Fraction
    stated: Fraction
    holds: bool
    solution: Fraction | None
    note: bool
    line: int


# Words that state a quantity, and the values a working may use for it. "one" and "a" are left out:
# "one glass costs $5" states a unit, rarely an operand.
WORD_VALUES: dict[str, tuple[Fraction, ...]] = {
    "two": (Fraction(2),), "three": (Fraction(3),), "four": (Fraction(4),), "five": (Fraction(5),),
    "six": (Fraction(6),), "seven": (Fraction(7),), "eight": (Fraction(8),), "nine": (Fraction(9),),
    "ten": (Fraction(10),), "eleven": (Fraction(11),), "twelve": (Fraction(12),), "fifteen": (Fraction(15),),
    "twenty": (Fraction(20),), "thirty": (Fraction(30),), "fifty": (Fraction(50),), "hundred": (Fraction(100),),
    "half": (Fraction(1, 2), Fraction(2)), "twice": (Fraction(2),), "double": (Fraction(2),),
    "triple": (Fraction(3),), "thrice": (Fraction(3),), "third": (Fraction(1, 3), Fraction(3)),
    "quarter": (Fraction(1, 4), Fraction(4)), "dozen": (Fraction(12),),
}
# A number word, unless it names a unit after a number or "per" ("3 dozen", "$68 per dozen").
WORD = re.compile(r"(?<!\d )(?<!per )(?<!a )\b(" + "|".join(WORD_VALUES) + r")(?:s|ves)?\b", re.IGNORECASE)
# A number of the question: not part of a word ("3D", "B12") nor a time of day ("3:00").
NUMBER = re.compile(rf"(?<![\w.:])\$?(?P<value>{NUM})(?P<percent>\s*(?:%|percent\b))?(?!\w|:\d)")
PRECISION_SPEC = re.compile(r"\s*(?:decimal|significant|digits|dp\b|d\.p\.)", re.IGNORECASE)
YEAR = range(1900, 2101)  # "in 2019": a date, not an operand
LEAST_QUANTITIES = 2  # with fewer, a misread leaves nothing to miss
LEAST_WORKING_NUMBERS = 3  # fewer numbers in the answer and it shows no working to check
WORD_MISS = 0.5  # a number word left out counts half: "made two stops" is often just a description
LONG_CHAIN = 4  # worked steps at which the steps signal turns from credit to doubt
# An answer this long is the signal's middle; each e-fold longer (or shorter) moves it by WORDINESS. Without
# it, answers with the same number of steps tie: 29% of GSM8K's held-out answers on one score.
TYPICAL_CHARS = 300
WORDINESS = 0.35
# "How many apples": a count of whole things. Not "how many hours/cups/miles", which come in fractions too.
COUNT_ASK = re.compile(r"\bhow many\s+(?!(?:more|fewer|less|of)\b)(?P<noun>[a-z]+)", re.IGNORECASE)
MEASURES = re.compile(r"^(?:second|minute|hour|day|week|month|year|cup|spoon|teaspoon|tablespoon|mile|kilometer|"
                      r"kilometre|meter|metre|feet|foot|inch|yard|pound|ounce|gram|kilogram|kg|liter|litre|gallon|"
                      r"quart|pint|dollar|cent|percent|time|unit|square|cubic|acre|calorie|degree|point|"
                      r"batch|load|serving|portion|slice|piece|bag|box|bottle|can|jar|tank|lap)", re.IGNORECASE)
PRECISION = re.compile(r"\b(?:decimal|round|nearest|fraction)", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """One quantity the question states: as written, the values a working may use for it, and how much it counts."""

    written: str
    values: frozenset[Fraction]
    weight: float = 1.0


def stated(question: str) -> list[Quantity]:
    """The distinct quantities `question` states, in order."""
    found: dict[frozenset[Fraction], Quantity] = {}
    for match in NUMBER.finditer(question):
        if PRECISION_SPEC.match(question, match.end()) or question[:match.start()].rstrip().endswith("nearest"):
            continue  # "to 2 decimals", "to the nearest 10": how to write the answer, not a quantity
        value = parse_number(match.group("value"))
        if value.denominator == 1 and value in YEAR and not match.group(0).startswith("$"):
            continue
        values = {abs(value)}
        if match.group("percent"):
            # 60% is 0.6 of it, or the 0.4 left, or 1.6 after a rise; "60% of 5" may be worked as 5 * 60 / 100.
            share = abs(value) / 100
            values |= {share, abs(1 - share), 1 + share}
        found.setdefault(frozenset(values), Quantity(match.group(0).strip(), frozenset(values)))
    for match in WORD.finditer(question):
        values = frozenset(WORD_VALUES[match.group(1).lower()])
        found.setdefault(values, Quantity(match.group(0), values, WORD_MISS))
    return list(found.values())


def used(answer: str) -> set[Fraction]:
    """Every number the answer writes, its calculator notes included (signs dropped: "-3" and "- 3" alike)."""
    text = re.sub(r"\\([*_#$])", r"\1", answer).replace("<<", " ").replace(">>", " ")
    text = re.sub(r"[-=*/+()×÷]|(?<=\d)x(?=\d)", " ", text)
    return {abs(parse_number(m.group("value"))) for m in NUMBER.finditer(text)}


def quantities(question: str, answer: str) -> Verdict:
    """Whether the working uses every quantity the question states, and which it left out."""
    asked = stated(question)
    if len(asked) < LEAST_QUANTITIES:
        return Verdict(None, f"the question states {len(asked)} quantity: nothing to leave out")
    numbers = used(answer)
    if len(numbers) < LEAST_WORKING_NUMBERS:
        return Verdict(None, "no working shown to check against the question")
    words = answer.lower()
    missing = [q for q in asked if not (q.values & numbers) and q.written.lower() not in words]
    if not missing:
        return Verdict(1.0, f"uses all {len(asked)} quantities the question states", f"{len(asked)} used")
    brief = f"{len(missing)}/{len(asked)} unused"
    shown = ", ".join(repr(q.written) for q in missing[:3])
    share = sum(q.weight for q in missing) / sum(q.weight for q in asked)
    return Verdict(-min(1.0, 2 * share), f"leaves out {shown} of the question ({brief})", brief)


def chain(stated_equations: list[Equation], final: Fraction | None, question: str = "") -> Verdict:
    """Whether every step's result feeds a later step or is the final answer.

    A step is an equation the answer works out: not one in an unknown (its right side is given, not found), and
    not a calculator note on a line that states its own step (the note repeats it, or works it in other units).
    A step that arrives back at a quantity of the question or an earlier result ("check: 46.67 * 3 = 140.01")
    is a check, not a result lost.
    """
    given = [value for q in stated(question) for value in q.values]
    worked = {e.line for e in stated_equations if not e.note}
    links = [e for e in stated_equations if e.holds and e.solution is None and not (e.note and e.line in worked)]
    if len(links) < 2 or final is None:
        return Verdict(None, "fewer than two steps, or no final answer: no chain to follow")
    operands = [{abs(parse_number(n)) for n in re.findall(NUM, e.text.partition("=")[0])} for e in links]
    dangling = []
    for i, link in enumerate(links):
        later = set().union(*operands[i + 1:])
        if abs(link.stated) in later or abs(link.value) in later or _reaches(link, final):
            continue
        if not any(_reaches(link, value) for value in given + [s.stated for s in links[:i]]):
            dangling.append(link)
    if not dangling:
        return Verdict(1.0, f"all {len(links)} steps lead to the answer", f"{len(links)} steps")
    brief = f"{len(dangling)}/{len(links)} unused"
    return Verdict(-min(1.0, 0.5 + 0.5 * (len(dangling) - 1)),
                   f"{dangling[0].text} is never used again and is not the answer ({brief})", brief)


def steps(stated_equations: list[Equation], answer: str = "") -> Verdict:
    """How long the working is: each step is one more place to go wrong, and long chains mark hard problems.

    On GSM8K's answers whose every other check passes, those with fewer steps are right more often (AUROC 0.67):
    a difficulty estimate, so that the cascade sends the long problems up first. With as many steps, a longer
    `answer` is right less often too (GSM8K's training answers over TYPICAL_CHARS against the rest: 3 steps
    30% against 35%, 4 steps 22% against 32%), so its length moves the value a little, and answers rarely tie.
    """
    lines = {e.line for e in stated_equations if e.solution is None}
    if not lines:
        return Verdict(None, "no worked step")
    wordy = WORDINESS * math.log(max(len(answer), 1) / TYPICAL_CHARS) if answer else 0.0
    value = max(-1.0, min(1.0, (LONG_CHAIN - len(lines)) / LONG_CHAIN - wordy))
    return Verdict(value, f"{len(lines)} worked step(s) in {len(answer)} characters" if answer
                   else f"{len(lines)} worked step(s)", f"{len(lines)} steps")


def _reaches(link: Equation, value: Fraction) -> bool:
    """Whether `link` comes out at `value`: exactly, or rounded as the answer shows it (46.666... as 46.67)."""
    if value in (link.stated, link.value):
        return True
    return value != 0 and abs(link.value - value) <= abs(value) * Fraction(1, 200)


def impossible(question: str, final: Fraction) -> str:
    """Why `final` cannot answer `question`, or "": a negative count, or a fraction of things that come whole."""
    asked = COUNT_ASK.search(question)
    if not asked:
        return ""
    if final < 0:
        return "a negative count"
    if final.denominator != 1 and not MEASURES.match(asked.group("noun")) and not PRECISION.search(question):
        return f"a count of {asked.group('noun')} that is not a whole number"
    return ""
