"""What a Python answer's code shows without running it: the function asked for, written, and whole.

Code runs only where the task or the answer carries examples and a sandbox
exists (code_checks.py, sandbox.py); most real requests carry no examples,
and on a Mac there is no bubblewrap. There, every answer whose code parses
scored the same (three quarters of HumanEval's answers on one score). What a
reader sees at a glance tells many of the wrong ones apart:

- a function the task stubs (a signature and a docstring) is not defined;
- a name is used that nothing defines: not a parameter, not assigned or
  imported anywhere in the answer or the task's code, not a builtin, not a
  word of the conversation (`parenter_string` for `paren_string`; but "use
  our `db`" makes `db` the asker's, and an earlier answer's helper is
  known): a NameError when that line runs. A module or a
  commonly imported name (`re`, `Path`) used unimported is the lesser fault
  of an import left to the file the code goes into;
- in a function the task stubs: a parameter the body never reads (the
  task's input ignored), or a body that is only a placeholder;
- a function that never returns a value when its signature says it returns
  one.

Each is cheap (one `ast` walk) and says which line of thought it caught. Names
in annotations are not read: an answer may leave `from typing import List` to
the file it goes into.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys

from proxy.judgment.code_blocks import parse, python_sources
from proxy.judgment.code_checks import is_placeholder, stub_functions
from proxy.judgment.verdict import Verdict

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__"}
UNUSED_OK = frozenset({"self", "cls", "args", "kwargs"})  # a method's receiver, or what it passes on as it came
# How much each kind of fault takes away, from 0 (none) to -1: a missing function or an undefined name fails
# whenever that line runs; an unused parameter or a missing return is usually, not always, a wrong answer.
FAULT_WEIGHT = {"missing": 1.0, "undefined": 1.0, "placeholder": 1.0, "no_return": 0.75, "unused": 0.5,
                "import": 0.5}
# Names an answer may use having left their import to the file it goes into: a module of the standard library,
# or what is commonly imported by name. Not a misspelling, so the lesser fault of an import left out.
IMPORTABLE = frozenset(sys.stdlib_module_names) | frozenset(
    "np pd plt Path PurePath defaultdict Counter deque OrderedDict namedtuple dataclass field partial reduce "
    "lru_cache cache wraps datetime date timedelta timezone Decimal Fraction Enum ABC abstractmethod "
    "List Dict Set Tuple Optional Union Any Callable Iterable Iterator Sequence Mapping".split())


def static_verdict(task: str, answer: str, conversation: str = "") -> Verdict:
    """The code_static signal: -1..0 by the faults found in the answer's Python, +1 with none; None without code.

    `conversation`: the text of the messages before the task, whose names (an earlier answer's helper, the
    asker's own) are known too.
    """
    sources = python_sources(answer)
    if not sources:
        return Verdict(None, "no Python code to read")
    context = "\n\n".join(python_sources(task))
    tree = parse("\n\n".join(sources))
    faults = _faults(tree, f"{conversation}\n{task}", context)
    if not faults:
        return Verdict(1.0, "the code defines what was asked, uses its inputs and every name it reads is defined",
                       "reads whole")
    kind, detail = max(faults, key=lambda f: FAULT_WEIGHT[f[0]])
    value = -min(1.0, sum(FAULT_WEIGHT[k] for k, _ in faults))
    more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
    return Verdict(value, detail + more, f"{len(faults)} fault{'s' * (len(faults) > 1)}")


def _faults(tree: ast.Module, said: str, context: str) -> list[tuple[str, str]]:
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, FUNCTIONS)}
    wanted = stub_functions(context)
    faults = [("missing", f"the answer does not define {name}, which the task asks for")
              for name in sorted(wanted - set(functions))]
    stubbed = [functions[name] for name in sorted(wanted) if name in functions]
    known = _bound_names(tree) | (_bound_names(parse(context)) if context else set()) | BUILTIN_NAMES
    for function in stubbed:
        faults += _function_faults(function, known, said, stubbed=True)
    # The answer's own functions: a handler may have to take an `event` it ignores, an interface may leave
    # a method to `pass`; only what it reads and returns is theirs to get wrong.
    for function in (node for node in tree.body if isinstance(node, FUNCTIONS) and node.name not in wanted):
        faults += _function_faults(function, known, said, stubbed=False)
    return faults


def _function_faults(function: ast.FunctionDef | ast.AsyncFunctionDef, known: set[str], said: str,
                     stubbed: bool) -> list[tuple[str, str]]:
    """The faults of one function; `stubbed`: the task wrote its signature, so it must take up every input.

    A name the conversation mentions (`said`) is the asker's ("use our `db`") or an earlier answer's.
    """
    body = function.body
    if all(is_placeholder(statement) for statement in body) or _only_returns_none(body):
        return [("placeholder", f"{function.name}'s body is only a placeholder")] if stubbed else []
    faults = []
    read = _read_names(function)
    arguments = function.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs] if stubbed else []:
        if argument.arg not in read and argument.arg not in UNUSED_OK and not argument.arg.startswith("_"):
            faults.append(("unused", f"{function.name} never reads its parameter {argument.arg}"))
    if _returns_something(function) and not _gives_a_value(function):
        faults.append(("no_return", f"{function.name} is declared to return {ast.unparse(function.returns)} "
                                    "but never returns a value"))
    if "*" not in known and (unknown := {name for name in read - known if not _mentioned(name, said)}):
        if undefined := sorted(unknown - IMPORTABLE):
            faults.append(("undefined", f"{function.name} reads {', '.join(undefined[:3])}, which nothing defines"))
        if unimported := sorted(unknown & IMPORTABLE):
            faults.append(("import", f"{function.name} uses {', '.join(unimported[:3])} without importing it"))
    return faults


def _mentioned(name: str, text: str) -> bool:
    return name in text and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is not None


def _only_returns_none(body: list[ast.stmt]) -> bool:
    """A body (after its docstring) of a lone `return` or `return None`."""
    rest = [s for s in body if not is_placeholder(s)]
    return (len(rest) == 1 and isinstance(rest[0], ast.Return)
            and (rest[0].value is None or isinstance(rest[0].value, ast.Constant) and rest[0].value.value is None))


def _returns_something(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    returns = function.returns
    return returns is not None and not (isinstance(returns, ast.Constant) and returns.value is None) and not (
        isinstance(returns, ast.Name) and returns.id in ("None", "NoReturn", "Never"))


def _gives_a_value(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function's own body (not a nested one's) returns a value, yields, or raises."""
    pending = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Return,)) and node.value is not None:
            return True
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Raise)):
            return True
        if not isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))
    return False


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name `tree` binds anywhere: assigned, a parameter, imported, defined, a loop or `as` target."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(alias.name == "*" for alias in node.names):
                bound.add("*")
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def _read_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function's body reads (its nested functions' included), annotations left out."""
    skipped: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.arg) and node.annotation is not None:
            skipped.update(id(n) for n in ast.walk(node.annotation))
        elif isinstance(node, FUNCTIONS) and node.returns is not None:
            skipped.update(id(n) for n in ast.walk(node.returns))
        elif isinstance(node, ast.AnnAssign):
            skipped.update(id(n) for n in ast.walk(node.annotation))
    return {node.id for statement in function.body for node in ast.walk(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in skipped}
