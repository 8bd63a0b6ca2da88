"""Code in an answer whatever its language: parsed where a parser exists, its brackets checked where none does."""

from __future__ import annotations

import pytest

from proxy.config_schema import QualityConfig
from proxy.judgment import code_blocks
from proxy.judgment.quality import score_answer

GO = ("```go\nfunc Reverse(s string) string {\n\tr := []rune(s)\n\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n"
      "\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}\n```")


@pytest.mark.parametrize(("language", "code"), [
    ("rust", "fn longest<'a>(x: &'a str, y: &'a str) -> &'a str {\n    if x.len() > y.len() { x } else { y } // '{'\n}"),
    ("rust", "let c = '}';\nlet s = \"{ not a brace\";\n/* { */ fn f() {}"),
    ("js", "const s = `a ${b} {`; function f(x) { return [x, 'it\\'s'] }"),
    ("sql", "SELECT * FROM t WHERE name = 'O''Brien' -- (\nAND (a = 1)"),
    ("c", "int main() { char c = '\\n'; printf(\"%d}\", 1); return 0; }"),
    ("java", "// don't\nclass A { void f() { } }"),
])
def test_brackets_inside_strings_comments_and_char_literals_do_not_count(language: str, code: str) -> None:
    assert code_blocks.bracket_error(code, language) is None


@pytest.mark.parametrize(("language", "code", "why"), [
    ("go", "func f() {\n\tfor i := 0; i < 3; i++ {\n", "'{' opened on line 2 is never closed"),
    ("js", "function f(x) { return x) }", "')' on line 1 closes nothing open"),
    ("java", 'String s = "cut off here;\n', "a string opened on line 1 is never closed"),
])
def test_a_cut_off_or_garbled_block_is_found_out(language: str, code: str, why: str) -> None:
    assert code_blocks.bracket_error(code, language) == why


def test_an_answer_that_is_code_is_told_from_prose_with_code_in_it() -> None:
    assert code_blocks.is_mostly_code("Here is the function:\n\n" + GO)
    assert not code_blocks.is_mostly_code(("Reversing a string in Go needs care with runes. " * 8) + "\n" + GO)
    assert not code_blocks.is_mostly_code("No code here at all.")


@pytest.mark.asyncio
async def test_a_go_answer_is_judged_as_code_not_marked_down_as_prose() -> None:
    messages = [{"role": "user", "content": "Write a Go function that reverses a string."}]

    async def score(text: str) -> tuple[float, dict[str, str]]:
        found = await score_answer(messages, {"role": "assistant", "content": text}, "stop", None, "conversation",
                                   QualityConfig(run_code=False))
        return found.score, {s.name: s.detail for s in found.signals}

    whole, signals = await score(GO)
    cut, _ = await score(GO.replace("\treturn string(r)\n}\n```", ""))

    assert signals["prose"] == "the answer is code: judged as code, not as prose"
    assert signals["code_parse"].endswith("(brackets balance; no parser here)")
    assert whole > 5 > 1 > cut
