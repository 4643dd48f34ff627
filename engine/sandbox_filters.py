"""Jinja2's built-in filters, each sized or counted before it materialises anything (SEC-2).

Three kinds of wrapping, all built from the stock filters:
- *text* filters (`string`, `tojson`, `pprint`, `upper`, `escape`, `striptags`, …) estimate the
  text they would build from their input (`sandbox_sizes.text_of`, which never converts) and
  charge it against the output limit of one value and the memory limit of the render;
- *consuming* filters (`list`, `sum`, `join`, `sort`, `map`, `select`, `unique`, `batch`, …)
  charge one iteration per input item, like `{% for %}`; the lazy ones mark their output as
  already counted so a chain is charged once per item;
- padding filters (`center`, `indent`, `wordwrap`, `replace`) compute their result size from
  their arguments, and `sum(start=[])` charges each intermediate list it builds.
`format` and `xmlattr` are removed.
"""

from __future__ import annotations

from typing import Any, Callable

from jinja2 import pass_environment, pass_eval_context
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.filters import make_attrgetter, sync_do_slice
from jinja2.runtime import Undefined
from jinja2.utils import _PassArg

from engine.sandbox_budget import Budget, BudgetExceeded, budget_or_default, text_size
from engine.sandbox_ops import (
    MAX_POWER_BITS,
    PIECE_BYTES,
    check_binop,
    replace_size,
    shallow_size,
    split_pieces,
)
from engine.sandbox_proxies import CountedIterator, charged_input, counted_iter
from engine.sandbox_sizes import measure, text_of, texts_of

_ORIGINAL = DEFAULT_FILTERS
LIST_BYTES = 56  # an empty list object
MAX_JSON_INDENT = 256
REMOVED_FILTERS = frozenset({"format", "xmlattr"})
# Worst-case growth of escaping filters per input byte is bounded (`&` -> `&amp;`), so they are
# charged by input size; a result is at most a small multiple of a value that passed the check.
_SAME_SIZE = ("string", "safe", "e", "escape", "forceescape", "upper", "lower", "capitalize",
              "trim", "truncate")
# Filters that split their text into words build several objects per word (measured on 1 MB of
# English text: title ~220 bytes per word, urlize ~150, striptags ~95, wordcount ~75).
_PER_WORD = {"title": 4, "striptags": 2, "wordcount": 2, "urlize": 3}


def _estimate_words(value: Any, text: int) -> int:
    return split_pieces(value, "split", (), {}) if isinstance(value, str) else text // 2 + 1


def _same_size(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget.size(text_of(value, budget))


def _per_word(pieces_per_word: int) -> Callable[..., None]:
    def check(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        text = text_of(value, budget)
        budget.size(text)
        budget.alloc(_estimate_words(value, text) * pieces_per_word * PIECE_BYTES)

    return check


def _urlencode(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    budget.size(3 * text_of(value, budget))  # percent-encoding triples a byte at most


def _reverse(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if isinstance(value, str):
        budget.size(text_size(value))


def _tojson(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    indent = args[0] if args else kwargs.get("indent")
    if (isinstance(indent, int) and indent > MAX_JSON_INDENT) \
            or (isinstance(indent, str) and len(indent) > MAX_JSON_INDENT):
        raise BudgetExceeded("tojson indent larger than " + str(MAX_JSON_INDENT) + " refused")
    width = indent if isinstance(indent, int) else len(indent) if isinstance(indent, str) else 0
    budget.size(text_of(value, budget, indent=max(width, 0)))


def _pprint(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    size = measure(value, budget, text_limit=budget.max_output, indent=1)
    if size is None:
        raise BudgetExceeded("pprint of this value would exceed the output limit of "
                             + str(budget.max_output) + " bytes")
    budget.charge(size.nodes)  # pprint walks every item in Python
    budget.size(size.text)


def _wrapped(original: Callable[..., Any], *, check: Callable[..., None] | None = None,
             consume: bool = False, lazy: bool = False) -> Callable[..., Any]:
    """`original` with its value sized (`check`), its input counted (`consume`) and its lazy
    output marked as counted (`lazy`); the pass-through argument of `original` is kept."""
    pass_arg = _PassArg.from_obj(original)
    offset = 0 if pass_arg is None else 1

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = args[offset]
        if check is not None:
            check(budget_or_default(), value, args[offset + 1:], kwargs)
        if consume:
            args = (*args[:offset], charged_input(value), *args[offset + 1:])
        result = original(*args, **kwargs)
        return CountedIterator(iter(result)) if lazy else result

    if pass_arg is not None:
        wrapper.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(original, "__name__", "filter")
    wrapper.__doc__ = original.__doc__
    return wrapper


# ---------------------------------------------------------------- filters with their own sizing

def _center(value: Any, width: int = 80) -> str:
    budget = budget_or_default()
    text = text_of(value, budget)
    budget.size(max(width, text) if isinstance(width, int) else text)
    result: str = _ORIGINAL["center"](value, width)
    return result


def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    budget = budget_or_default()
    text = text_of(s, budget)
    pad = max(width, 0) if isinstance(width, int) else text_of(width, budget)
    budget.size(pad)
    lines = s.count("\n") + 1 if isinstance(s, str) else text // 2 + 1
    budget.size(text + lines * pad)
    result: str = _ORIGINAL["indent"](s, width, first, blank)
    return result


@pass_environment
def _wordwrap(environment: Any, s: Any, width: int = 79, break_long_words: bool = True,
              wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    budget = budget_or_default()
    text = text_of(s, budget)
    joiner = environment.newline_sequence if wrapstring is None else wrapstring
    joiner_size = text_of(joiner, budget)
    newlines = s.count("\n") if isinstance(s, str) else text // 2
    lines = text // max(width if isinstance(width, int) else 1, 1) + newlines + 1
    budget.size(text + lines * joiner_size)
    result: str = _ORIGINAL["wordwrap"](environment, s, width, break_long_words, wrapstring,
                                        break_on_hyphens)
    return result


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    budget = budget_or_default()
    items = list(counted_iter(value)) if not isinstance(value, Undefined) else []
    if attribute is not None:
        getter = make_attrgetter(eval_ctx.environment, attribute)
        items = [getter(item) for item in items]
    budget.size(text_of(d, budget) * max(len(items) - 1, 0) + texts_of(items, budget))
    result: str = _ORIGINAL["join"](eval_ctx, items, d)
    return result


@pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    budget = budget_or_default()
    budget.size(text_of(s, budget))
    text = s if isinstance(s, str) else str(s)
    old_text = old if isinstance(old, str) else str(old)
    new_text = new if isinstance(new, str) else str(new)
    budget.size(replace_size(text, old_text, new_text, -1 if count is None else count))
    result: str = _ORIGINAL["replace"](eval_ctx, s, old, new, count)
    return result


@pass_environment
def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """`sum`, charging each item; with a sequence `start` (`sum(start=[])` flattens lists),
    every intermediate result is sized like `+`, which bounds the quadratic copying."""
    items = counted_iter(iterable)
    if attribute is not None:
        items = map(make_attrgetter(environment, attribute), items)
    if not isinstance(start, (list, tuple, str, bytes)):
        return sum(items, start)
    total = start
    for item in items:
        check_binop("+", total, item)
        total = total + item
    return total


def _dictsort(value: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(value, dict):
        budget = budget_or_default()
        budget.charge(len(value))
        budget.alloc(len(value) * (PIECE_BYTES + shallow_size((0, 0))))
    return _ORIGINAL["dictsort"](value, *args, **kwargs)


def _check_count(name: str, count: Any) -> None:
    budget = budget_or_default()
    if isinstance(count, int) and count > budget.max_iterations:
        raise BudgetExceeded(name + " count larger than the iteration limit refused")


def _charged_lists(lists: Any) -> Any:
    """Charge each list a `batch`/`slice` yields (its items were charged as iterations)."""
    budget = budget_or_default()
    for chunk in lists:
        budget.alloc(LIST_BYTES + shallow_size(chunk))
        yield chunk


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    _check_count("batch", linecount)
    return CountedIterator(_charged_lists(_ORIGINAL["batch"](counted_iter(value), linecount,
                                                             fill_with)))


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    _check_count("slice", slices)
    # the stock `slice` is an async variant that expects an eval context first
    return CountedIterator(_charged_lists(sync_do_slice(counted_iter(value), slices, fill_with)))


def _int(value: Any, default: int = 0, base: int = 10) -> int:
    """`int`, refusing results past the `**` limit: base-16 text of 1 MB is a 4-million-bit int
    whose division would take seconds (base-10 text is already capped by Python at 4300 digits)."""
    result: int = _ORIGINAL["int"](value, default, base)
    if isinstance(result, int) and result.bit_length() > MAX_POWER_BITS:
        raise BudgetExceeded("integer larger than " + str(MAX_POWER_BITS) + " bits refused")
    return result


def _round(value: float, precision: int = 0, method: str = "common") -> float:
    if isinstance(precision, int) and abs(precision) > 400:
        raise BudgetExceeded("round precision larger than 400 refused")
    result: float = _ORIGINAL["round"](value, precision, method)
    return result


def _build() -> dict[str, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = {
        "center": _center, "indent": _indent, "wordwrap": _wordwrap, "join": _join,
        "replace": _replace, "sum": _sum, "dictsort": _dictsort, "batch": _batch,
        "slice": _slice, "round": _round, "int": _int,
        "tojson": _wrapped(_ORIGINAL["tojson"], check=_tojson),
        "pprint": _wrapped(_ORIGINAL["pprint"], check=_pprint),
        "urlencode": _wrapped(_ORIGINAL["urlencode"], check=_urlencode),
        "reverse": _wrapped(_ORIGINAL["reverse"], check=_reverse),
    }
    for name in _SAME_SIZE:
        table[name] = _wrapped(_ORIGINAL[name], check=_same_size)
    for name, pieces in _PER_WORD.items():
        table[name] = _wrapped(_ORIGINAL[name], check=_per_word(pieces))
    for name in ("list", "sort", "groupby", "min", "max"):
        table[name] = _wrapped(_ORIGINAL[name], consume=True)
    for name in ("map", "select", "reject", "selectattr", "rejectattr", "unique"):
        table[name] = _wrapped(_ORIGINAL[name], consume=True, lazy=True)
    return table


_WRAPPED = _build()


def sandbox_filters() -> dict[str, Callable[..., Any]]:
    """The filter table of the sandbox: every stock filter but the removed ones, wrapped."""
    return {name: _WRAPPED.get(name, func) for name, func in _ORIGINAL.items()
            if name not in REMOVED_FILTERS}
