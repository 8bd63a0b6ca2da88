"""Build evals/maths_labelled.jsonl: answers to generated word problems, labelled by their final number.

There is no GSM8K on disk and no internet, so the problems are generated: a
dozen grade-school templates (packs and give-aways, change from a note,
discounts in %, distances, weekly output in thousands, averages, ages,
fractions of a class, savings, pages left, growth in %, recipes), filled from
a seeded random generator, each with its exact answer. The answers to each:

- `worked`: a correct worked solution, its steps as `a op b = c`, ending on
  the answer in one of the forms answers use ("The answer is 42", "#### 42",
  \\boxed{42}, "So she has 42 left.");
- `gsm8k` (every 3rd problem): correct, in GSM8K's style (<<a*b=c>>, #### n);
- `terse` / `terse_wrong` (every 5th problem each): one sentence, no working,
  right or off by a little: what a scorer cannot check;
- two deterministic mutants of the worked solution, rotating over four kinds:
  `wrong_step` (one step's result off, the error carried through to the end),
  `wrong_final` (every step right, another final number stated),
  `no_final` (stops before the last step, never states an answer) and
  `truncated` (cut at 40-70% of its length, finish_reason=length);
- `smollm2_t0`, `smollm2_t08`: SmolLM2-135M's real answers (the embedded
  model, greedy and sampled at 0.8, seeded) to the first MODEL_PROBLEMS.

The label, `passed`, is whether the answer's last number (as GSM8K graders
take it) equals the known answer; `grade` is 10 or 0. Problems are split 70/30
into train and test by a hash of the problem id. Model answers are reused from
the output file unless --regenerate.

    .venv/bin/python evals/make_maths_set.py [--out PATH] [--problems N] [--no-model] [--regenerate]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from embedded_answers import ask  # evals/, beside this script

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "maths_labelled.jsonl"
MODEL = "smollm2:135m"
MODEL_PROBLEMS = 16
MODEL_MAX_TOKENS = 200
TEST_SHARE = 3  # in 10 problems held out
REQUEST = ("Solve this maths word problem. Show your working, then give the final answer on the last line "
           "as 'The answer is N'.\n\n{question}")
NAMES = ("Maria", "Tom", "Aisha", "Ben", "Chen", "Lucy", "Omar", "Priya", "Sam", "Zoe", "Diego", "Hana")
ITEMS = ("pencils", "stickers", "apples", "marbles", "cookies", "cards", "stamps", "shells")
MUTANTS = ("wrong_step", "wrong_final", "no_final", "truncated")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Step:
    """`prefix a op b = c suffix`; a and b name inputs or earlier results."""

    prefix: str
    a: str
    op: str
    b: str
    key: str
    suffix: str = ""


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    values: dict[str, Fraction]
    steps: tuple[Step, ...]
    conclusion: str  # "{name} has {answer} pencils left", {answer} filled in
    money: bool = False
    counts: tuple[str, ...] = ()  # in a money problem, the inputs that are counts, not dollars


def _packs(rng: random.Random, name: str) -> Problem:
    item = rng.choice(ITEMS)
    a, b, c = rng.randint(3, 9), rng.randint(6, 15), rng.randint(2, 20)
    return Problem("", f"{name} buys {a} packs of {item} with {b} {item} in each pack. {name} gives {c} {item} to "
                   f"friends. How many {item} does {name} have left?", {"a": a, "b": b, "c": c},
                   (Step(f"{name} buys", "a", "*", "b", "t", f" {item}."),
                    Step(f"After giving away {c}, {name} has", "t", "-", "c", "r", " left.")),
                   f"{name} has {{answer}} {item} left")


def _change(rng: random.Random, name: str) -> Problem:
    n, price = rng.randint(2, 6), Fraction(rng.randint(105, 895), 100)
    note = 20 if n * price < 20 else 50 if n * price < 50 else 100
    return Problem("", f"{name} buys {n} notebooks at ${_money(price)} each and pays with a ${note} note. How much "
                   f"change does {name} get?", {"n": n, "p": price, "note": note},
                   (Step("The notebooks cost", "n", "*", "p", "t", "."),
                    Step("The change is", "note", "-", "t", "r", ".")),
                   f"{name} gets ${{answer}} in change", money=True, counts=("n",))


def _discount(rng: random.Random, name: str) -> Problem:
    price, off, n = rng.choice((20, 25, 40, 60, 80, 120)), rng.choice((10, 15, 20, 25, 30)), rng.randint(2, 5)
    return Problem("", f"A jacket costs ${price}. It is on sale for {off}% off. {name} buys {n} jackets. How much "
                   f"does {name} pay in total?", {"p": price, "d": Fraction(off, 100), "n": n},
                   (Step("The discount is", "p", "*", "d", "x", " per jacket."),
                    Step("Each jacket costs", "p", "-", "x", "s", "."),
                    Step(f"For {n} jackets:", "s", "*", "n", "r", ".")),
                   f"{name} pays ${{answer}} in total", money=True, counts=("n",))


def _distance(rng: random.Random, name: str) -> Problem:
    s1, t1, s2, t2 = rng.randint(40, 90), rng.randint(2, 5), rng.randint(30, 70), rng.randint(1, 4)
    return Problem("", f"{name} drives at {s1} km/h for {t1} hours, then at {s2} km/h for {t2} hours. How far does "
                   f"{name} drive in total, in km?", {"s1": s1, "t1": t1, "s2": s2, "t2": t2},
                   (Step("First part:", "s1", "*", "t1", "d1", " km."),
                    Step("Second part:", "s2", "*", "t2", "d2", " km."),
                    Step("In total:", "d1", "+", "d2", "r", " km.")),
                   f"{name} drives {{answer}} km")


def _factory(rng: random.Random, name: str) -> Problem:
    rate, weeks = rng.randint(11, 48) * 125, rng.randint(2, 6)
    return Problem("", f"A factory makes {_thousands(rate)} bottles a day, every day. How many bottles does it make "
                   f"in {weeks} weeks?", {"r": rate, "w": weeks, "seven": 7},
                   (Step(f"{weeks} weeks is", "w", "*", "seven", "days", " days."),
                    Step("It makes", "r", "*", "days", "r2", " bottles.")),
                   "The factory makes {answer} bottles")


def _average(rng: random.Random, name: str) -> Problem:
    scores = [rng.randint(55, 99) for _ in range(3)]
    scores.append(4 * rng.randint(65, 90) - sum(scores) % 4 * 0 - 0)
    scores[3] = max(40, min(100, scores[3]))
    total = sum(scores) - sum(scores) % 4 + 4 if sum(scores) % 4 else sum(scores)
    scores[3] += total - sum(scores)
    a, b, c, d = scores
    return Problem("", f"{name} scored {a}, {b}, {c} and {d} on four tests. What is the average score?",
                   {"a": a, "b": b, "c": c, "d": d, "four": 4},
                   (Step("The scores add up to", "a", "+", "b", "ab", ","), Step("then", "ab", "+", "c", "abc", ","),
                    Step("then", "abc", "+", "d", "t", "."), Step("The average is", "t", "/", "four", "r", ".")),
                   "The average score is {answer}")


def _ages(rng: random.Random, name: str) -> Problem:
    child, times, older = rng.randint(3, 12), rng.randint(2, 4), rng.randint(2, 9)
    return Problem("", f"{name}'s brother is {child}. {name}'s mother is {times} times as old as the brother, and "
                   f"{name}'s father is {older} years older than the mother. How old is the father?",
                   {"c": child, "k": times, "o": older},
                   (Step("The mother is", "c", "*", "k", "m", " years old."),
                    Step("The father is", "m", "+", "o", "r", " years old.")),
                   "The father is {answer} years old")


def _class(rng: random.Random, name: str) -> Problem:
    n = 12 * rng.randint(2, 6)
    return Problem("", f"A class has {n} students. A quarter of them walk to school, a third of the rest come by "
                   f"bus, and the others come by car. How many come by car?", {"n": n, "four": 4, "three": 3},
                   (Step("Walkers:", "n", "/", "four", "w", "."), Step("The rest:", "n", "-", "w", "rest", "."),
                    Step("By bus:", "rest", "/", "three", "bus", "."), Step("By car:", "rest", "-", "bus", "r", ".")),
                   "{answer} students come by car")


def _savings(rng: random.Random, name: str) -> Problem:
    save, weeks, spend = rng.randint(5, 25), rng.randint(4, 12), rng.randint(10, 40)
    return Problem("", f"{name} saves ${save} a week for {weeks} weeks, then spends ${spend} on a game. How much "
                   f"money does {name} have left?", {"s": save, "w": weeks, "x": spend},
                   (Step(f"{name} saves", "s", "*", "w", "t", "."), Step("After the game:", "t", "-", "x", "r", ".")),
                   f"{name} has ${{answer}} left", money=True, counts=("w",))


def _pages(rng: random.Random, name: str) -> Problem:
    per_day, days = rng.randint(12, 35), rng.randint(3, 9)
    pages = per_day * days + rng.randint(20, 150)
    return Problem("", f"A book has {pages} pages. {name} reads {per_day} pages a day for {days} days. How many "
                   f"pages are left to read?", {"p": pages, "r": per_day, "d": days},
                   (Step(f"{name} reads", "r", "*", "d", "read", " pages."),
                    Step("Pages left:", "p", "-", "read", "r2", ".")),
                   "{answer} pages are left")


def _growth(rng: random.Random, name: str) -> Problem:
    town, pct = rng.randint(12, 90) * 1000, rng.choice((2, 4, 5, 8, 10, 12))
    return Problem("", f"A town has {_thousands(town)} people. Its population grows by {pct}% this year. How many "
                   f"people live there at the end of the year?", {"t": town, "g": Fraction(pct, 100)},
                   (Step("The growth is", "t", "*", "g", "x", " people."),
                    Step("The population becomes", "t", "+", "x", "r", ".")),
                   "{answer} people live there")


def _recipe(rng: random.Random, name: str) -> Problem:
    cups, batch, k = rng.randint(2, 5), rng.choice((12, 18, 24)), rng.randint(2, 5)
    return Problem("", f"A recipe uses {cups} cups of flour for {batch} cookies. How many cups of flour does {name} "
                   f"need for {batch * k} cookies?", {"c": cups, "b": batch, "n": batch * k},
                   (Step(f"{batch * k} cookies is", "n", "/", "b", "k", " batches."),
                    Step("Flour needed:", "k", "*", "c", "r", " cups.")),
                   f"{name} needs {{answer}} cups of flour")


TEMPLATES: tuple[Callable[[random.Random, str], Problem], ...] = (
    _packs, _change, _discount, _distance, _factory, _average, _ages, _class, _savings, _pages, _growth, _recipe)


def problems(count: int, seed: int = 10) -> list[Problem]:
    rng = random.Random(seed)
    made = []
    for index in range(count):
        template = TEMPLATES[index % len(TEMPLATES)]
        problem = template(rng, rng.choice(NAMES))
        made.append(Problem(f"maths/{index}:{template.__name__[1:]}", problem.question,
                            {k: Fraction(v) for k, v in problem.values.items()}, problem.steps, problem.conclusion,
                            problem.money, problem.counts))
    return made


def solve(problem: Problem, slip: tuple[int, Fraction] | None = None) -> list[tuple[Step, Fraction, Fraction, Fraction]]:
    """(step, a, b, result) in order; `slip` (step index, amount) makes that step's result wrong and carries it on."""
    values = dict(problem.values)
    done = []
    for index, step in enumerate(problem.steps):
        a, b = values[step.a], values[step.b]
        result = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[step.op]
        if slip and slip[0] == index:
            result += slip[1]
        values[step.key] = result
        done.append((step, a, b, result))
    return done


def answer_of(problem: Problem) -> Fraction:
    return solve(problem)[-1][3]


def _money(value: Fraction) -> str:
    return str(int(value)) if value.denominator == 1 else f"{float(value):.2f}"


def _thousands(value: Fraction | int) -> str:
    return f"{int(value):,}"


def _number(value: Fraction, money: bool, op: str = "") -> str:
    if value.denominator != 1:
        return f"{float(value):.2f}".rstrip("0").rstrip(".") if not money else f"{float(value):.2f}"
    return _thousands(value) if abs(value) >= 10000 else str(int(value))


def _shown(value: Fraction, problem: Problem, key: str) -> str:
    """An input as the working writes it: a percentage as n%, money with $."""
    if problem.values.get(key) is not None and key in ("d", "g"):
        return f"{int(value * 100)}%"
    money = problem.money and key not in problem.counts
    return ("$" if money else "") + _number(value, money)


def worked(problem: Problem, index: int, done: list | None = None, final: Fraction | None = None) -> str:
    done = done if done is not None else solve(problem)
    lines = [f"{step.prefix} {_shown(a, problem, step.a)} {_sym(step.op, index)} {_shown(b, problem, step.b)} = "
             f"{_shown(result, problem, step.key)}{step.suffix}" for step, a, b, result in done]
    value = done[-1][3] if final is None else final
    return "\n".join(lines) + "\n" + _ending(problem, value, index)


def _sym(op: str, index: int) -> str:
    return {"*": ("*", "×", "x")[index % 3], "/": ("/", "÷")[index % 2]}.get(op, op)


def _ending(problem: Problem, value: Fraction, index: int) -> str:
    shown = _number(value, problem.money)
    conclusion = problem.conclusion.format(answer=shown)
    conclusion = "the" + conclusion[3:] if conclusion.startswith("The ") else conclusion
    return (f"The answer is {shown}.", f"So {conclusion}.\n#### {shown}",
            f"Therefore, {conclusion}. \\boxed{{{shown}}}", f"So {conclusion}.")[index % 4]


def gsm8k_style(problem: Problem) -> str:
    lines = []
    for step, a, b, result in solve(problem):
        expr = f"{_number(a, problem.money)}{step.op}{_number(b, problem.money)}".replace(",", "")
        lines.append(f"{step.prefix} {expr} = <<{expr}={_number(result, problem.money).replace(',', '')}>>"
                     f"{_number(result, problem.money)}{step.suffix}")
    return "\n".join(lines) + f"\n#### {_number(answer_of(problem), problem.money)}"


def mutant(problem: Problem, kind: str, index: int) -> tuple[str, str]:
    """(the mutated worked answer, its finish_reason)."""
    text = worked(problem, index)
    if kind == "wrong_step":
        step = index % len(problem.steps)
        slip = Fraction((1, 2, 3, 5, 10, -1, -2, 7)[index % 8])
        return worked(problem, index, solve(problem, (step, slip))), "stop"
    if kind == "wrong_final":
        return worked(problem, index, final=answer_of(problem) + (1, 2, 5, 10, -1, -3)[index % 6]), "stop"
    if kind == "no_final":
        lines = worked(problem, index).splitlines()[: len(problem.steps) - 1]
        return "\n".join(lines + ["Next we work out the rest from these numbers."]), "stop"
    cut = int(len(text) * (0.4 + 0.3 * (index % 4) / 3))
    return text[:cut], "length"


def label(content: str, answer: Fraction) -> bool:
    """Whether the answer's last number is the known answer (GSM8K's flexible grading)."""
    numbers = NUMBER.findall(content.replace("$", ""))
    if not numbers:
        return False
    try:
        return Fraction(numbers[-1].replace(",", "").rstrip(".")) == answer
    except (ValueError, ZeroDivisionError):
        return False


def split_of(problem_id: str) -> str:
    return "test" if int(hashlib.sha256(problem_id.encode()).hexdigest(), 16) % 10 < TEST_SHARE else "train"


def item(problem: Problem, kind: str, content: str, finish_reason: str = "stop") -> dict[str, Any]:
    passed = label(content, answer_of(problem))
    return {"id": f"{problem.id}:{kind}", "task_id": problem.id, "kind": kind, "split": split_of(problem.id),
            "task_type": "conversation", "messages": [{"role": "user", "content": REQUEST.format(question=problem.question)}],
            "answer": {"role": "assistant", "content": content}, "finish_reason": finish_reason, "tools": None,
            "known_answer": _number(answer_of(problem), problem.money), "passed": passed, "grade": 10.0 if passed else 0.0}


def fixed_items(problem: Problem, index: int) -> list[dict[str, Any]]:
    items = [item(problem, "worked", worked(problem, index))]
    if index % 3 == 0:
        items.append(item(problem, "gsm8k", gsm8k_style(problem)))
    value = answer_of(problem)
    if index % 5 == 0:
        items.append(item(problem, "terse", problem.conclusion.format(answer=_number(value, problem.money)) + "."))
    if index % 5 == 2:
        off = value + (2, 3, -1, 4)[index % 4]
        items.append(item(problem, "terse_wrong", problem.conclusion.format(answer=_number(off, problem.money)) + "."))
    for kind in (MUTANTS[index % 4], MUTANTS[(index + 2) % 4]):
        content, finish = mutant(problem, kind, index)
        items.append(item(problem, kind, content, finish))
    return items


def model_items(chosen: list[Problem], cached: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    settings = {"smollm2_t0": {"temperature": 0.0}, "smollm2_t08": {"temperature": 0.8}}
    model = None
    items = []
    for index, problem in enumerate(chosen):
        for kind, sampling in settings.items():
            key = f"{problem.id}:{kind}" + REQUEST.format(question=problem.question)
            if key not in cached:
                if model is None:
                    from proxy.localmodel.model import EmbeddedModel

                    # One thread: llama.cpp's threads spin-wait, and on a shared 2-core machine a second
                    # thread that has to wait for a core made generation several times slower, not faster.
                    model = EmbeddedModel(MODEL, context_tokens=2048, threads=1)
                cached[key] = ask(model, REQUEST.format(question=problem.question),
                                  sampling | {"seed": index}, MODEL_MAX_TOKENS)
            content, finish = cached[key]
            items.append(item(problem, kind, content, finish))
        if model is not None and index % 6 == 5:
            print(f"  asked {MODEL} about {index + 1} problems", file=sys.stderr)
    return items



def _cached(path: Path) -> dict[str, tuple[str, str]]:
    if not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    # Keyed by the question too: an answer to an earlier version of a problem is not reused.
    return {row["id"] + row["messages"][0]["content"]: (row["answer"]["content"], row["finish_reason"])
            for row in rows if row["kind"].startswith("smollm2")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--problems", type=int, default=300)
    parser.add_argument("--no-model", action="store_true", help="leave out the model's answers")
    parser.add_argument("--regenerate", action="store_true", help="ask the model again even for answers on file")
    args = parser.parse_args()
    started = time.monotonic()
    made = problems(args.problems)
    items = [entry for index, problem in enumerate(made) for entry in fixed_items(problem, index)]
    if not args.no_model:
        items += model_items(made[:MODEL_PROBLEMS], {} if args.regenerate else _cached(args.out))
    with args.out.open("w", encoding="utf-8") as out:
        for entry in items:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    kinds: dict[str, list[int]] = {}
    for entry in items:
        kinds.setdefault(entry["kind"], [0, 0])[entry["passed"]] += 1
    print(f"{len(items)} items from {len(made)} problems in {time.monotonic() - started:.0f} s -> {args.out}")
    for kind, (failed, passed) in sorted(kinds.items()):
        print(f"  {kind:12} {passed + failed:4} items, {passed:4} reach the known answer")


if __name__ == "__main__":
    main()
