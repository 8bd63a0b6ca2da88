"""Maths and reasoning answers: recompute the arithmetic they show, and find the one answer they give.

A worked answer to a word problem shows its sums ("3 * 4 = 12", "$1,200 - $300
= $900") and ends on an answer ("The answer is 42", "#### 42", \\boxed{42}).
Small models go wrong in ways these catch cheaply: a step whose result is
simply false, a final answer that no step produced, no answer at all, or two
that disagree. Every stated equation is recomputed exactly (fractions, not
floats, so 0.1 + 0.2 = 0.3 holds), allowing the rounding its result shows.
Where two local samples answer the same question, `check_agreement` compares their
final answers: agreement is a strong sign the answer is right (self-consistency;
"LLM cascades with mixture of thought representations", Yue et al. 2024).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from proxy.judgment import word_problems
from proxy.judgment.arithmetic import NUM, evaluate, parse_number
from proxy.judgment.verdict import Verdict

MAX_EQUATIONS = 60  # enough for any worked answer; bounds the cost of a pathological one
NUMBER = re.compile(rf"(?<![\w.])(?:{NUM})(?![\w])")
# Left of "=": an arithmetic expression (numbers, operators, brackets), at least one operator between numbers.
EXPRESSION = re.compile(rf"(?:[(\s]*(?:{NUM})\s*%?[)\s]*(?:[-+*/^]\s*))+[(\s]*(?:{NUM})\s*%?[)\s]*$")
RESULT = re.compile(rf"^\s*(?P<approx>≈|~|about|approximately|roughly)?\s*(?P<value>(?:{NUM}))\s*(?P<percent>%?)")
CHAIN_REST = re.compile(rf"^\s*(?:{NUM})\s*%?\s*(?P<rest>[-+*/^].*)$")
# A result written as a fraction: "= 3/4 of the pie", "= 1/36".
FRACTION_RESULT = re.compile(r"^\s*(?P<numerator>-?\d+)\s*/\s*(?P<denominator>\d+)(?!\d|\.\d|\s*[-+*/^(\d])")
# An equation in one unknown: "x * 4 + 8 = 40", "4x + 8 = 40"; and the value an answer gives it: "x = 8".
TERM = rf"(?:{NUM})?[a-z]\b|{NUM}"
WITH_UNKNOWN = re.compile(rf"(?:[(\s]*(?:{TERM})\s*[)\s]*[-+*/^]\s*)+[(\s]*(?:{TERM})[)\s]*$")
SOLUTION = re.compile(rf"(?<![\w.])(?P<name>[a-z])\s*=\s*(?P<value>{NUM})(?!\w|\.\d|\s*[-+*/^(\d])")
# GSM8K's calculator notes: "<<140/3=46.666666666666664>>46.67", the calculator's result then the one shown.
CALCULATOR_NOTE = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
# A stated number with this many decimals or more is a float's digits, not a rounding the writer chose.
FLOAT_DIGITS = 10
ANSWER = rf"(?:{NUM})(?:\s*/\s*[1-9]\d*(?!\d|\.\d))?"  # a number, or a fraction: "The answer is 3/4"
ANSWER_MARKERS = (
    re.compile(rf"####\s*\$?\s*(?P<value>{ANSWER})"),
    re.compile(rf"\\boxed\{{\s*\\?\$?\s*(?P<value>{ANSWER})"),
    re.compile(rf"\b(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=)\s*:?\s*\**\s*\$?\s*(?P<value>{ANSWER})",
               re.IGNORECASE),
)
CONCLUSION = re.compile(r"^\s*(?:so|thus|therefore|hence|in total|altogether|overall|finally)\b", re.IGNORECASE)
# A maths question: numbers to work with and a quantity to find.
MATHS_ASK = re.compile(
    r"\b(how (?:many|much|far|long|old|fast)|what (?:is|was|will be) the (?:total|sum|difference|product|"
    r"average|mean|cost|price|value|percentage|number|area|perimeter|remainder)|calculate|compute|solve|"
    r"evaluate|what percent|how much money)\b|[0-9)]\s*[-+*/×÷^]\s*[0-9(]|"
    r"\d\s+(?:times|plus|minus|divided by|multiplied by)\s+\d",  # a sum in words: "17 times 23"
    re.IGNORECASE,
)
# The closing question of a word problem: "... What will her delivery order cost?"
WORD_PROBLEM_ASK = re.compile(r"(?:^|[.!?,;]\s+)(?:what|how)\b[^.!?\n]*\?\s*$", re.IGNORECASE)
# Quantities written as words count as numbers of the question: "a quarter of them", "twice as many".
NUMBER_WORD = re.compile(r"\b(?:half|halves|thirds?|quarters?|fifths?|tenths?|twice|double|triple|dozens?|hundred|"
                         r"thousand|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty)\b",
                         re.IGNORECASE)
CODE_IN_TASK = re.compile(r"```|^\s*(?:def|class|function|import)\s", re.MULTILINE)


@dataclass(frozen=True)
class Equation:
    """One `expression = result` the answer states, and whether it holds."""

    text: str
    value: Fraction  # the expression, recomputed
    stated: Fraction
    holds: bool
    solution: Fraction | None = None  # for an equation in one unknown: the value the answer gave it
    note: bool = False  # a calculator note (<<E=R>>), which repeats or works out its line's step
    line: int = 0  # which of the answer's equation lines it is on (a note is on the line it annotates)


@dataclass(frozen=True)
class FinalAnswer:
    """The answer an answer gives: `value` when it gives one clear one, else None and why."""

    value: Fraction | None
    candidates: tuple[Fraction, ...]  # every distinct answer it announces
    how: str  # "marked" (#### / \\boxed / "the answer is"), "last line", "conflicting" or "none"


def verdicts(task: str, text: str, finish_reason: str | None, peers: Sequence[str] = ()) -> dict[str, Verdict]:
    """The arithmetic, final_answer, quantities, chain, steps and consistency signals of an answer `text` to `task`.

    `peers` are other samples' answers to the same request (self-consistency); none, and that signal is skipped.
    """
    maths_task = is_maths_task(task)
    if not maths_task:  # algebra in an explanation, C(5,4), odds as fractions: not sums to recompute
        return {name: Verdict(None, "not a maths question") for name in ("arithmetic", "final_answer", "quantities",
                                                                   "chain", "steps", "consistency")}
    stated, final = equations(text), final_answer(text)
    return {
        "arithmetic": check_arithmetic(stated),
        "final_answer": check_final_answer(task, final, finish_reason, stated),
        "quantities": word_problems.quantities(task, text),
        "chain": word_problems.chain(stated, final.value, task),
        "steps": word_problems.steps(stated, text),
        "consistency": check_agreement(text, peers),
    }


@dataclass(frozen=True)
class Worked:
    """A question and answer with the answer's working read, for timing each check alone (eval-scorer)."""

    question: str
    answer: str
    peers: Sequence[str]
    stated: list[Equation]
    final: FinalAnswer

    @classmethod
    def read(cls, question: str, answer: str, peers: Sequence[str]) -> Worked:
        return cls(question, answer, peers, equations(answer), final_answer(answer))


def timed_checks() -> dict[str, Callable[[Worked], object]]:
    """Each maths signal as a call on a `Worked`; reading the working is timed as `arithmetic`'s."""
    return {
        "arithmetic": lambda w: check_arithmetic(equations(w.answer)),
        "final_answer": lambda w: check_final_answer(w.question, w.final, "stop", w.stated),
        "quantities": lambda w: word_problems.quantities(w.question, w.answer),
        "chain": lambda w: word_problems.chain(w.stated, w.final.value, w.question),
        "steps": lambda w: word_problems.steps(w.stated, w.answer),
        "consistency": lambda w: check_agreement(w.answer, w.peers),
    }


def check_arithmetic(stated: list[Equation]) -> Verdict:
    """Every equation the answer states, recomputed: any false one is a wrong step."""
    if not stated:
        return Verdict(None, "no arithmetic stated")
    wrong = [e for e in stated if not e.holds]
    if wrong:
        brief = f"{len(wrong)}/{len(stated)} wrong"
        return Verdict(-(0.5 + 0.5 * len(wrong) / len(stated)),
                       f"{wrong[0].text} is wrong: it makes {_shown(wrong[0].value)} ({brief})", brief)
    # Credit grows with the checked steps and saturates: 1 gives 0.5, 3 give 0.88.
    return Verdict(1 - 0.5 ** len(stated), f"{len(stated)} equation(s) recomputed, all hold", f"{len(stated)} hold")


def check_final_answer(task: str, final: FinalAnswer, finish_reason: str | None, stated: list[Equation]) -> Verdict:
    """One clear final answer (`final`, of the answer's text), and one the working shows how it was reached."""
    if final.how == "conflicting":
        shown = ", ".join(_shown(v) for v in final.candidates)
        return Verdict(-1.0, f"conflicting final answers: {shown}", "conflicting")
    if final.value is None or (finish_reason == "length" and final.how != "marked"):
        why = "cut off (finish_reason=length) before it" if final.value is not None else "none found"
        return Verdict(-1.0, f"no final answer: {why}", "none")
    value = _shown(final.value)
    if why := word_problems.impossible(task, final.value):
        return Verdict(-1.0, f"final answer {value} cannot be right: {why}", "impossible")
    results = {e.stated for e in stated} | {e.value for e in stated if e.holds} | {
        e.solution for e in stated if e.holds and e.solution is not None}
    if stated and (final.value in results or final.value / 100 in results):
        return Verdict(1.0, f"final answer {value}, the result of its working", value)
    if stated:
        return Verdict(-0.6, f"final answer {value} is not the result of any step it shows", "unsupported")
    if final.value in {parse_number(n) for n in NUMBER.findall(task)}:
        return Verdict(-0.3, f"final answer {value} only repeats a number of the question, with no working", value)
    return Verdict(0.3, f"final answer {value}, no working shown", value)


def check_agreement(text: str, peers: Sequence[str]) -> Verdict:
    """Whether other samples' final answers agree with this one's."""
    if not peers:
        return Verdict(None, "no other sample to compare (cascade.self_consistency_samples: 0)")
    mine = final_answer(text).value
    theirs = [final_answer(peer).value for peer in peers]
    if mine is None or all(v is None for v in theirs):
        return Verdict(None, "a sample has no final answer to compare")
    agree = sum(1 for v in theirs if v == mine)
    brief = f"{agree}/{len(theirs)} agree"
    return Verdict(2 * agree / len(theirs) - 1, f"{brief} on the final answer {_shown(mine)}", brief)


def _shown(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.6g}"


def is_maths_task(task: str) -> bool:
    """A task with at least two numbers and a quantity to find, not a coding task.

    Word problems also end on a question that names no operation ("What floor is Bill on now?"): with three
    quantities stated, a closing what/how question asks for a number too.
    """
    if CODE_IN_TASK.search(task):
        return False
    count = len(NUMBER.findall(task)) + len(NUMBER_WORD.findall(task))
    return count >= 2 and bool(MATHS_ASK.search(task)) or count >= 3 and bool(WORD_PROBLEM_ASK.search(task))


def parse_answer(text: str) -> Fraction:
    """A marked final answer: a number, or a fraction ("3/4")."""
    numerator, _, denominator = text.partition("/")
    return parse_number(numerator.strip()) / (int(denominator) if denominator else 1)


def equations(text: str) -> list[Equation]:
    """Every arithmetic `a op b = c` the answer's prose states, code blocks excepted.

    Chains count link by link: "3 * 4 = 12 + 5 = 17" states 3 * 4 = 12 and 12 + 5 = 17.
    """
    found: list[Equation] = []
    lines = _normalised_lines(text)
    found += _solved([line for line, _, _ in lines])
    for line, number, note in lines:
        parts = line.split("=")
        for left, right in zip(parts, parts[1:]):
            expression = EXPRESSION.search(left)
            result = RESULT.match(right)
            if not expression or not result or not re.search(r"\d\s*%?[)\s]*[-+*/^]", expression.group(0)):
                continue
            if re.search(r"[-+*/^]\s*$", left[:expression.start()]):
                continue  # "x * 4 + 8 = 40": the tail of an equation with an unknown, not a sum to recompute
            if "/" in expression.group(0) and re.match(r"\s*[\d.,]+\s*(?:remainder|r\b|with)", right, re.IGNORECASE):
                continue  # "7 / 2 = 3 remainder 1": a whole-number division, stated as such
            written = _balanced(expression.group(0))
            value = evaluate(written)
            if value is None:
                continue
            stated = parse_number(result.group("value"))
            if result.group("percent") and not written.rstrip().endswith("%"):
                # "45 / 60 * 100 = 75%" states 75; "0.75 = 75%" is a conversion, taken as 0.75 when it fits.
                stated = stated if _close(value, stated, result.group("value")) else stated / 100
            holds = _close(value, stated, result.group("value"), bool(result.group("approx")))
            shown = result.group(0)
            fraction = FRACTION_RESULT.match(right)
            if not holds and fraction and int(fraction.group("denominator")):
                # "1 - 1/4 = 3/4 of the pie": the result is a fraction, not its numerator
                stated = Fraction(int(fraction.group("numerator")), int(fraction.group("denominator")))
                holds, shown = value == stated, fraction.group(0)
            if not holds and CHAIN_REST.match(right):
                # "2 * (3 + 4) = 2 * 7 = 14": the next link is an expression of the same value
                chained = evaluate(_balanced(right))
                holds = chained is not None and chained == value
            if not holds and "%" in written:
                # "100 - 20% = 80": a percentage of what it follows
                relative = evaluate(re.sub(rf"({NUM})\s*([-+])\s*({NUM})\s*%", r"\1*(1\2\3/100)", written))
                holds = relative is not None and _close(relative, stated, result.group("value"))
            if not holds and result.group("percent") and "%" in written:
                # "90% + 92% = 182%": percentages on both sides, the result in percent
                holds = _close(value * 100, stated, result.group("value"))
            found.append(Equation(f"{written.strip()} = {shown.strip()}", value, stated, holds, note=note, line=number))
            if len(found) >= MAX_EQUATIONS:
                return found
    return found


def _solved(lines: list[str]) -> list[Equation]:
    """Each equation in one unknown the answer states, checked with the value it finally gives that unknown.

    "x * 4 + 8 = 40, so x = 8" holds (8 * 4 + 8 is 40); with "x = 9" it does not. An unknown the answer never
    gives a value is left alone: there is nothing to check.
    """
    solutions = {m.group("name"): parse_number(m.group("value")) for line in lines for m in SOLUTION.finditer(line)}
    found = []
    for line in lines:
        parts = line.split("=")
        for left, right in zip(parts, parts[1:]):
            expression, result = WITH_UNKNOWN.search(left), RESULT.match(right)
            names = set(re.findall(r"(?<![a-z])[a-z](?![a-z])", expression.group(0))) if expression else set()
            if not result or len(names) != 1 or not re.search(r"\d", expression.group(0)):
                continue
            name = names.pop()
            if name not in solutions:
                continue
            written = _balanced(expression.group(0))
            substituted = re.sub(rf"(?<=[\d)])\s*{name}\b", f"*({solutions[name]})", written)
            value = evaluate(re.sub(rf"\b{name}\b", f"({solutions[name]})", substituted))
            stated = parse_number(result.group("value"))
            if value is not None:
                found.append(Equation(f"{written.strip()} = {result.group(0).strip()} with {name} = "
                                      f"{_shown(solutions[name])}", value, stated, value == stated, solutions[name]))
    return found[:MAX_EQUATIONS]


def final_answer(text: str) -> FinalAnswer:
    """The one answer `text` arrives at: its marked answers, else the number its last line concludes with."""
    prose = _without_code(text)
    marked: list[Fraction] = []
    for marker in ANSWER_MARKERS:
        marked += [parse_answer(m.group("value")) for m in marker.finditer(prose)]
    if marked:
        distinct = tuple(dict.fromkeys(marked))
        if len(distinct) > 1 and marked[-1] != _last_conclusion(prose):
            return FinalAnswer(None, distinct, "conflicting")
        return FinalAnswer(marked[-1], distinct, "marked")
    concluded = _last_conclusion(prose)
    if concluded is not None:
        return FinalAnswer(concluded, (concluded,), "last line")
    return FinalAnswer(None, (), "none")


def _last_conclusion(prose: str) -> Fraction | None:
    """The last number of the last line that has one, if that line is among the answer's final two."""
    lines = [line for line in prose.splitlines() if line.strip()]
    for back, line in enumerate(reversed(lines[-2:])):
        numbers = NUMBER.findall(_normalise(line))
        if numbers:
            if back == 1 and not CONCLUSION.search(line):
                return None  # the last line moved on (a question, an offer, more work) and the one before is no conclusion
            return parse_number(numbers[-1])
    return None


def _without_code(text: str) -> str:
    return re.sub(r"```.*?(?:```|\Z)", " ", text, flags=re.DOTALL)


def _normalise(line: str) -> str:
    """Money, LaTeX and unicode operators as plain arithmetic; unit words between a number and an operator dropped."""
    line = re.sub(r"\\([*_#`])", r"\1", line)  # markdown escapes: "16 \* 3/4" is 16 * 3/4
    line = re.sub(r"<<([^<>]*)>>", r" \1 ", line)  # GSM8K's calculator annotations
    line = re.sub(r"\\frac\{([^{}]+)\}\{([^{}]+)\}", r"((\1)/(\2))", line)
    line = re.sub(r"\\(?:times|cdot)|[×·∙]", "*", line)
    line = re.sub(r"\\div|÷|∕", "/", line)
    line = line.replace("−", "-").replace("–", "-").replace("\\%", "%")
    line = re.sub(r"\\[,!;]|\\left|\\right|\\text\{[^{}]*\}|\\?\$|[€£]", " ", line)
    line = re.sub(r"\\[\[\]()]", " ", line)
    line = re.sub(r"(?<=\d)\s*\*\*\s*(?=\d)", "^", line)  # Python's power
    line = re.sub(r"(?<=[\d)%])\s+[xX]\s+(?=[\d(])", " * ", line)
    line = re.sub(r"\*\*", " ", line)  # markdown bold around numbers
    # "5 apples + 3 apples = 8" -> "5 + 3 = 8"; "3 hours * 60 minutes/hour" -> "3 * 60"
    line = re.sub(rf"(?<![\w.])({NUM})(\s*%)?((?:\s+[A-Za-z][A-Za-z'/-]*){{1,3}})(?=\s*[-+*/=])", _drop_units, line)
    return line


def _drop_units(match: re.Match[str]) -> str:
    """"5 apples" -> "5", but "32 and x" before "= 8" keeps its unknown: "x = 8" is the answer's solution."""
    words = match.group(3).split()
    if len(words[-1]) == 1 and words[-1].islower() and match.string[match.end():].lstrip().startswith("="):
        return match.group(1) + (match.group(2) or "") + " " + " ".join(words)
    return match.group(1) + (match.group(2) or "")


def _normalised_lines(text: str) -> list[tuple[str, int, bool]]:
    """The answer's lines that state equations (each with its source line's number and whether it is a note).

    A line opening with "=" is joined to the one before it. A calculator note (`<<E=R>>S`) is a line of its
    own, "E = R"; the line it was in keeps S, the result it shows.
    """
    joined: list[list] = []
    for number, line in enumerate(_without_code(text).splitlines()):
        line = line.replace("==", "=").replace(":=", "=")
        notes = CALCULATOR_NOTE.findall(line)
        if notes:
            line = CALCULATOR_NOTE.sub(" ", line)
            joined += [[f"{expression} = {result}", number, True] for expression, result in notes]
        if joined and line.lstrip().startswith("="):
            joined[-1][0] += " " + line.strip()
        else:
            joined.append([line, number, False])
    return [(_normalise(line), number, note) for line, number, note in joined
            if "=" in line and re.search(r"\d", line)]


def _balanced(expression: str) -> str:
    """The expression without the opening brackets of the prose around it: "(3 * 4" -> "3 * 4"."""
    while expression.count("(") > expression.count(")"):
        expression = expression.replace("(", " ", 1)
    return expression


def _close(value: Fraction, stated: Fraction, written: str, approximate: bool = False) -> bool:
    """Whether `stated` (as `written`) is `value`, rounded or cut to the decimals it shows."""
    if value == stated:
        return True
    decimals = len(written.split(".")[1]) if "." in written else 0
    if decimals >= FLOAT_DIGITS:  # a calculator's float (46.666666666666664): right to a float's precision
        return abs(value - stated) <= abs(value) * Fraction(1, 10**9)
    unit = Fraction(1, 10 ** decimals)
    if abs(value - stated) <= unit / 2 or (decimals and abs(value - stated) < unit):
        return decimals > 0 or approximate or abs(value - stated) < Fraction(1, 10**6)
    return approximate and value != 0 and abs(value - stated) / abs(value) <= Fraction(1, 100)
