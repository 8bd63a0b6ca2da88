"""Prose answers judged without a judge: cheap features, combined by a model fitted on GPT-4 preferences.

Before this, a prose answer gave the scorer nothing to go on (no code to run,
no tool call to validate), so nearly every one scored the same. The features
here are what separates a helpful answer from a weak one in AlpacaEval's
16,000 GPT-4-judged answers: length against what the question asks for
(a haiku is not an essay), structure (lists, headings, paragraphs), specific
content (numbers, names, code), hedging, how many of the question's terms the
answer takes up, repetition, the question's script answered in the same
script, and a cut-off ending. evals/fit_prose.py fits a linear model over them
(proxy/judgment/prose_weights.json) on 70% of the instructions and reports on the rest.
Everything is a regex or a count: no model, no I/O, a millisecond or two.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_FILE = Path(__file__).resolve().parent / "prose_weights.json"
NUMBER_WORDS = {"one": 1, "a": 1, "an": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20}
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+(?:[.,]\d+)*")
SENTENCE_END = re.compile(r"[.!?。！？]+(?:\s|$)")
LIST_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)]|[a-z][.)])\s+\S", re.MULTILINE)
HEADING = re.compile(r"^\s*(?:#{1,6}\s+\S|\*\*[^*\n]{2,80}\*\*:?\s*$|[A-Z][^\n.!?]{2,60}:\s*$)", re.MULTILINE)
BOLD = re.compile(r"\*\*[^*\n]+\*\*")
INLINE_CODE = re.compile(r"`[^`\n]+`")
FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
# A capitalised word inside a sentence: a cheap stand-in for a named entity.
NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?:\s[A-Z][a-z]+)*")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?%)?")
HEDGES = re.compile(
    r"\b(I think|I believe|I guess|I'm not sure|I am not sure|not (?:entirely )?sure|might|may be|maybe|perhaps|"
    r"possibly|probably|it depends|I (?:don't|do not) know|I cannot be (?:sure|certain)|hard to say|unclear)\b",
    re.IGNORECASE,
)
DISCLAIMER = re.compile(
    r"\b(as an AI|I'm an AI|I am an AI|language model|I (?:cannot|can't|am unable to|am not able to|'m unable to)|"
    r"I (?:don't|do not) have (?:access|the ability|personal)|I apologi[sz]e|I'm sorry)\b",
    re.IGNORECASE,
)
BREVITY = re.compile(
    r"\b(brief(?:ly)?|short|concise(?:ly)?|succinct|in (?:a|one) (?:sentence|word|line|phrase)|one[- ]word|"
    r"tl;?dr|tweet|haiku|slogan|title|headline|tagline|yes or no|just (?:the|a) |only (?:the|a) |summari[sz]e)\b",
    re.IGNORECASE,
)
DETAIL = re.compile(
    r"\b(detail(?:ed)?|in depth|thorough|comprehensive|step[- ]by[- ]step|essay|article|blog|story|plan|guide|"
    r"explain|describe|elaborate|outline|compare|list|steps|examples?|tips|ideas|ways)\b",
    re.IGNORECASE,
)
# "in 50 words", "list three fruits", "give me 5 creative names": a number, then (within two words) what it counts.
ASKED_COUNT = re.compile(
    r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty)\s+(?:[a-z-]+\s+){0,2}?"
    r"(words?|sentences?|paragraphs?|lines?|[a-z]{3,}s)\b",
    re.IGNORECASE,
)
NOT_COUNTED = frozenset("syllable time year day hour minute second cup dollar percent mile kilometer page".split())
COUNT_ASK = re.compile(r"\b(list|give|name|write|suggest|provide|generate|create|share|recommend|top|in|using|"
                       r"with|come up with|brainstorm|make)\W+(?:\w+\W+){0,3}$", re.IGNORECASE)
STOPWORDS = frozenset(
    "the and for that this with from have what which when where your you are was were will would could should "
    "can not but all any how why who its into than then them they their there these those been being also just "
    "does did use using used make like some more most such only other about please give tell write given "
    "following based provide create need want know".split()
)
OPENERS = re.compile(r"^\s*(sure|certainly|of course|absolutely|great question|yes|no|here (?:is|are)|okay|ok)\b",
                     re.IGNORECASE)


@dataclass(frozen=True)
class ProseModel:
    """The fitted linear model: logit = intercept + sum(coef * (feature - mean) / scale)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    center: float  # the logit of a typical answer in the fitting data: value 0 of the signal
    spread: float  # how many logit units make the signal's value tanh(1)

    def logit(self, values: Mapping[str, float]) -> float:
        return self.intercept + sum(c * (values[f] - m) / s
                                    for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef))

    def contributions(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the logit, against a typical answer: what `detail` names."""
        return {f: c * (values[f] - m) / s for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef)}


@functools.cache
def load_model(path: Path = WEIGHTS_FILE) -> ProseModel:
    """The fitted model (evals/fit_prose.py writes it), read once per process."""
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data["model"]
    return ProseModel(tuple(model["features"]), tuple(model["mean"]), tuple(model["scale"]), tuple(model["coef"]),
                      float(model["intercept"]), float(model["center"]), float(model["spread"]))


@dataclass(frozen=True)
class ProseVerdict:
    """The prose signal before weighting: `value` from -1 (weak) to +1 (strong)."""

    value: float
    logit: float  # the model's log-odds that GPT-4 prefers this answer to GPT-4 Turbo's
    detail: str
    brief: str


def judge(task: str, text: str, finish_reason: str | None, model: ProseModel | None = None) -> ProseVerdict:
    """How strong a prose `text` is as an answer to `task`, by the fitted feature model."""
    model = model or load_model()
    values = features(task, text, finish_reason)
    logit = model.logit(values)
    value = math.tanh((logit - model.center) / model.spread)
    shares = sorted(model.contributions(values).items(), key=lambda kv: kv[1])
    low = [f"{name} {share:+.1f}" for name, share in shares[:2] if share < -0.15]
    high = [f"{name} {share:+.1f}" for name, share in reversed(shares[-2:]) if share > 0.15]
    why = ", ".join(low + high) or "nothing stands out"
    chance = 1 / (1 + math.exp(-logit))
    return ProseVerdict(value, logit, f"prose model: {chance:.0%} chance a GPT-4 judge prefers it to GPT-4 Turbo's "
                                      f"answer ({why})", f"{value:+.2f}")


def features(task: str, text: str, finish_reason: str | None = None) -> dict[str, float]:
    """The cheap features of an answer `text` to `task`, by name (what prose_weights.json weighs)."""
    words = WORD.findall(text)
    n_words = len(words)
    log_words = math.log1p(n_words)
    prose = _without_code(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    sentences = max(1, len(SENTENCE_END.findall(prose)))
    items = len(LIST_ITEM.findall(text))
    brevity = 1.0 if BREVITY.search(task) else 0.0
    asked_words = len(WORD.findall(task))
    return {
        "log_words": log_words,
        "log_words_sq": (log_words - 5.0) ** 2,
        "brevity_x_length": brevity * log_words,
        "detail_x_length": (1.0 if DETAIL.search(task) else 0.0) * log_words,
        "log_task_words": math.log1p(asked_words),
        "count_miss": _count_miss(task, n_words, sentences, items, len(paragraphs), len(lines)),
        "list_items": math.log1p(items),
        "headings": math.log1p(len(HEADING.findall(text))),
        "bold": math.log1p(len(BOLD.findall(text))),
        "paragraphs": math.log1p(len(paragraphs)),
        "words_per_sentence": math.log1p(len(WORD.findall(prose)) / sentences),
        "code": 1.0 if FENCE.search(text) or INLINE_CODE.search(text) else 0.0,
        "numbers": _rate(len(NUMBER.findall(prose)), n_words),
        "names": _rate(len(NAME.findall(prose)), n_words),
        "long_words": _rate(sum(1 for w in words if len(w) >= 9), n_words),
        "hedges": _rate(len(HEDGES.findall(prose)), n_words),
        "disclaimer": 1.0 if DISCLAIMER.search(text[:600]) else 0.0,
        "opener": 1.0 if OPENERS.match(text) else 0.0,
        "task_terms": _task_terms(task, words),
        "distinct_words": len({w.lower() for w in words}) / n_words if n_words else 0.0,
        "repeated_trigrams": _repeated_ngrams([w.lower() for w in words], 3),
        "repeated_lines": _repeated_lines(lines),
        "language_mismatch": _language_mismatch(task, text),
        "cut_off": _cut_off(text, finish_reason),
    }


def _rate(count: int, n_words: int) -> float:
    """Occurrences per 100 words, damped: specificity saturates."""
    return math.log1p(100 * count / n_words) if n_words else 0.0


def _without_code(text: str) -> str:
    return re.sub(r"```.*?(?:```|\Z)", " ", text, flags=re.DOTALL)


def _count_miss(task: str, n_words: int, sentences: int, items: int, paragraphs: int, lines: int) -> float:
    """How far the answer is from a count the question states ("in 3 sentences", "list 5 ideas"), in log units."""
    match = next((m for m in ASKED_COUNT.finditer(task) if COUNT_ASK.search(task[max(0, m.start() - 40):m.start()])),
                 None)
    if not match:
        return 0.0
    number, unit = match.group(1).lower(), match.group(2).lower().rstrip("s")
    if unit in NOT_COUNTED:
        return 0.0
    asked = int(number) if number.isdigit() else NUMBER_WORDS.get(number, 0)
    if asked <= 0:
        return 0.0
    given = {"word": n_words, "sentence": sentences, "paragraph": paragraphs, "line": lines}.get(unit, items or lines)
    return abs(math.log((given + 1) / (asked + 1)))


def _task_terms(task: str, words: list[str]) -> float:
    """The share of the question's content words (cheaply stemmed) that the answer uses."""
    asked = {w.lower()[:6] for w in WORD.findall(task[:2000]) if len(w) >= 4 and w.lower() not in STOPWORDS}
    if not asked:
        return 0.5
    said = {w.lower()[:6] for w in words}
    return len(asked & said) / len(asked)


def _repeated_ngrams(words: list[str], n: int) -> float:
    """The share of the answer's word n-grams that are repeats of an earlier one."""
    grams = list(zip(*(words[i:] for i in range(n))))
    if len(grams) < 10:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def _repeated_lines(lines: list[str]) -> float:
    substantial = [line.lower() for line in lines if len(line) >= 15]
    if len(substantial) < 3:
        return 0.0
    counts = Counter(substantial)
    return sum(c - 1 for c in counts.values()) / len(substantial)


def _script(text: str) -> str:
    """The dominant writing system of `text`'s letters: latin, cjk, cyrillic, arabic, other, or none."""
    tally: Counter[str] = Counter()
    for char in text[:1500]:
        if not char.isalpha():
            continue
        code = ord(char)
        if code < 0x250:
            tally["latin"] += 1
        elif 0x400 <= code < 0x530:
            tally["cyrillic"] += 1
        elif 0x600 <= code < 0x700:
            tally["arabic"] += 1
        elif 0x3040 <= code < 0xA000 or 0xAC00 <= code < 0xD7B0:
            tally["cjk"] += 1
        else:
            tally["other"] += 1
    return tally.most_common(1)[0][0] if tally else "none"


def _language_mismatch(task: str, text: str) -> float:
    """1 when the answer is written in another script than the question (asked in Chinese, answered in English)."""
    if re.search(r"\btranslat", task, re.IGNORECASE):
        return 0.0  # a translation is meant to change language
    asked, said = _script(_without_code(task)), _script(_without_code(text))
    return 1.0 if "none" not in (asked, said) and asked != said else 0.0


def _cut_off(text: str, finish_reason: str | None) -> float:
    """1 when the answer stops mid-thought: the token limit, an open code fence, or a sentence left hanging."""
    if finish_reason == "length" or len(FENCE.findall(text)) % 2:
        return 1.0
    tail = text.rstrip()
    if len(tail) < 200:
        return 0.0
    last = tail.splitlines()[-1].strip()
    if re.search(r"[.!?:;)\]}\"'”’*`>|]$|[^\x00-\x7f]$|\d$", last) or LIST_ITEM.match(last) or len(last) < 25:
        return 0.0
    return 1.0
