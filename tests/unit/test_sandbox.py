"""Sandboxing and resource limits of workflow-format.md §13 (SEC-1 … SEC-11)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine import sandbox
from engine.clock import FixedClock
from engine.errors import ResolutionFailed
from engine.jsonutil import canonical_json
from engine.sandbox import ENVIRONMENT, SilentUndefined, WfeSandbox
from engine.settings import EngineSettings
from engine.templating import TemplateEngine, template_context


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine(EngineSettings())


def _ctx(**extra: Any) -> dict[str, Any]:
    state = {"name": "Cats", "items_list": [1, 2, 3], "conf": {"a": 1}, "big": list(range(1000)),
             **extra}
    return template_context(state, {"step_id": "s"}, {}, FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))


# ------------------------------------------------------------------ SEC-1 … SEC-3 environment

def test_sec1_environment_settings() -> None:
    env = ENVIRONMENT
    assert isinstance(env, ImmutableSandboxedEnvironment) and isinstance(env, WfeSandbox)
    assert env.autoescape is False and env.trim_blocks is False and env.lstrip_blocks is False
    assert env.newline_sequence == "\n" and env.keep_trailing_newline is False
    assert env.loader is None and env.undefined is SilentUndefined


def test_sec1_unsafe_undefined_raises_immediately(engine: TemplateEngine) -> None:
    """An unsafe attribute never degrades into a silent undefined / null pure result."""
    for source in ("{{ state.name.__class__ }}", "{{ state.missing.__class__ }}",
                   "{{ state.missing._undefined_obj }}"):
        with pytest.raises(ResolutionFailed, match="security violation"):
            engine.evaluate(source, _ctx())


def test_sec2_exact_globals_filters_and_tests() -> None:
    env = ENVIRONMENT
    assert set(env.globals) == {"range", "dict"}
    assert env.globals["dict"] is dict and env.globals["range"] is not range
    assert set(env.filters) == set(DEFAULT_FILTERS) - {"format", "xmlattr"}
    for name in ("center", "indent", "wordwrap", "join"):
        assert env.filters[name] is not DEFAULT_FILTERS[name]
    assert set(env.tests) == set(DEFAULT_TESTS)


def test_sec2_wrapped_filters_still_work(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ 'ab' | center(6) }}", ctx) == "  ab  "
    assert engine.evaluate("{{ 'a\nb' | indent(2) }}", ctx) == "a\n  b"
    assert engine.evaluate("{{ state.items_list | join('-') }}", ctx) == "1-2-3"
    assert engine.evaluate("{{ 'aaa bbb' | wordwrap(3) }}", ctx) == "aaa\nbbb"


@pytest.mark.parametrize("source", ["{{ 'x' | join(',') ~ ('y' | indent(2000000)) }}",
                                    "{{ ('a ' * 200000) | wordwrap(1, wrapstring='-----') }}",
                                    "{{ state.big | join('x' * 2000) }}"])
def test_sec2_wrapped_filters_refuse_oversized_results(engine: TemplateEngine, source: str) -> None:
    with pytest.raises(ResolutionFailed, match="budget exceeded"):
        engine.evaluate(source, _ctx())


def test_sec3_compiled_under_fixed_name_and_cached() -> None:
    template = sandbox.compiled_template("{{ 1 }} cached-probe")
    assert template.name == "<input>"
    assert sandbox.compiled_template("{{ 1 }} cached-probe") is template
    expression = sandbox.compiled_expression(" 40 + 2 ")
    assert sandbox.compiled_expression(" 40 + 2 ") is expression
    assert sandbox.TEMPLATE_CACHE._size == 512 and sandbox.EXPRESSION_CACHE._size == 512


def test_sec3_cache_is_bounded() -> None:
    cache = sandbox._LRU(3)
    for i in range(5):
        cache.get_or_build(str(i), lambda s: s)
    assert len(cache) == 3


# ------------------------------------------------------------------ SEC-4, SEC-5 size limits

def test_sec4_source_limit(engine: TemplateEngine) -> None:
    small = TemplateEngine(EngineSettings(template_max_source_bytes=100))
    ok = "{{ 1 }}" + "x" * 80
    assert small.evaluate(ok, {}) == "1" + "x" * 80
    with pytest.raises(ResolutionFailed, match="source exceeds 100 bytes"):
        small.evaluate("{{ 1 }}" + "é" * 50, {})  # 57 chars but 107 UTF-8 bytes
    # a string without template markers is never limited
    assert small.evaluate("x" * 1000, {}) == "x" * 1000


def test_sec5_output_limit(engine: TemplateEngine) -> None:
    small = TemplateEngine(EngineSettings(template_max_output_bytes=1000))
    assert len(small.render("{% for i in range(99) %}0123456789{% endfor %}", {})) == 990
    with pytest.raises(ResolutionFailed, match="output exceeds 1000 bytes"):
        small.render("{% for i in range(101) %}0123456789{% endfor %}", {})


# ------------------------------------------------------------------ SEC-6 iteration and time

def test_sec6_iteration_budget_counts_context_containers() -> None:
    small = TemplateEngine(EngineSettings(template_max_iterations=50))
    ctx = _ctx()
    assert small.evaluate("{{ state.items_list | sum }}", ctx) == 6
    with pytest.raises(ResolutionFailed, match="iteration limit of 50"):
        small.evaluate("{{ state.big | sum }}", ctx)
    with pytest.raises(ResolutionFailed, match="iteration limit of 50"):
        small.evaluate("{% for k, v in state.conf.items() %}{% for x in state.big %}{% endfor %}{% endfor %}", ctx)
    with pytest.raises(ResolutionFailed, match="iteration limit of 50"):
        small.evaluate("{{ range(51) | list | length }}", ctx)


def test_sec6_budget_is_per_render() -> None:
    small = TemplateEngine(EngineSettings(template_max_iterations=600))
    ctx = _ctx()
    for _ in range(5):
        assert small.evaluate("{{ state.big[:500] | sum }}", ctx) == sum(range(500))


def test_sec6_time_budget() -> None:
    fast = TemplateEngine(EngineSettings(template_max_ms=50, template_max_iterations=10**9))
    start = time.process_time()  # CPU time: the budget stops the work, whatever the load
    with pytest.raises(ResolutionFailed, match="time limit of 50 ms"):
        fast.evaluate("{% for i in range(10**8) %}{% endfor %}", {})
    assert time.process_time() - start < 1.0


def test_sec6_budget_is_thread_safe() -> None:
    """Several worker threads render at once; each render has its own counter."""
    engine = TemplateEngine(EngineSettings(template_max_iterations=1200))
    ctx = _ctx()
    results: list[Any] = []

    def work() -> None:
        for _ in range(20):
            results.append(engine.evaluate("{{ state.big | sum }}", ctx))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [sum(range(1000))] * 80


# ------------------------------------------------------------------ SEC-7 operators

def test_sec7_operator_rules(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ 2 ** 10 }}", ctx) == 1024
    assert engine.evaluate("{{ 7 % 3 }}", ctx) == 1
    assert engine.evaluate("{{ 'ab' * 3 }}", ctx) == "ababab"
    assert engine.evaluate("{{ [0] * 3 }}", ctx) == [0, 0, 0]
    for source in ("{{ 2 ** 257 }}", "{{ (3 ** 200) ** 250 }}", "{{ 'x' * 2000000 }}",
                   "{{ [1, 2] * 1000000 }}", "{{ '%s' % 1 }}", "{{ 'a' ~ ('%d' % 1) }}"):
        with pytest.raises(ResolutionFailed):
            engine.evaluate(source, ctx)


# ------------------------------------------------------------------ SEC-8 recursion

def test_sec8_recursion_error_caught_and_thread_reusable(engine: TemplateEngine) -> None:
    outcome: list[Any] = []

    def work() -> None:
        try:
            engine.evaluate("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {})
        except ResolutionFailed as exc:
            outcome.append(exc.message)
        outcome.append(engine.evaluate("{{ 1 + 1 }}", {}))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["inputs: template recursion limit exceeded", 2]


# ------------------------------------------------------------------ SEC-10 payloads

PAYLOADS = [
    "state.name.__class__",
    "state.name.__class__.__mro__",
    "state.name.__class__.__mro__[1].__subclasses__()",
    "now.__globals__",
    "now.__builtins__",
    "cycler.__init__.__globals__.os",
    "lipsum.__globals__['os'].popen('id').read()",
    "joiner.__init__.__globals__",
    "namespace.__init__.__globals__",
    "self.__init__.__globals__",
    "self._TemplateReference__context",
    "'{0.__class__}'.format(state.name)",
    "'{a}'.format_map(state.conf)",
    "state.name | attr('format')",
    "state.items_list.append(1)",
    "state.conf.update({})",
    "state.items_list.pop()",
    "module.conf.pop('a')",
]
STATEMENT_PAYLOADS = ["{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'x' %}"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sec10_payload_as_pure_expression_and_mixed_text(engine: TemplateEngine, payload: str) -> None:
    ctx = _ctx()
    before = canonical_json(ctx["state"])
    for source in ("{{ " + payload + " }}", "text {{ " + payload + " }} more"):
        with pytest.raises(ResolutionFailed) as info:
            engine.evaluate(source, ctx)
        assert info.value.error_type == "resolution_failed"
    assert canonical_json(ctx["state"]) == before


@pytest.mark.parametrize("payload", STATEMENT_PAYLOADS)
def test_sec10_loader_statements_fail(engine: TemplateEngine, payload: str) -> None:
    ctx = _ctx()
    before = canonical_json(ctx["state"])
    for source in (payload, "text " + payload + " more"):
        with pytest.raises(ResolutionFailed):
            engine.evaluate(source, ctx)
    assert canonical_json(ctx["state"]) == before


@pytest.mark.parametrize("payload", ["state.name.__class__", "'{0.__class__}'.format(state.name)",
                                     "state.items_list.append(1)"])
def test_sec10_security_errors_bypass_pure_expression_fallback(engine: TemplateEngine,
                                                               payload: str) -> None:
    with pytest.raises(ResolutionFailed, match="security violation"):
        engine.evaluate("{{ " + payload + " }}", _ctx())


# ------------------------------------------------------------------ SEC-11 budgets

BUDGET_PAYLOADS = [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in state.big %}{% for b in state.big %}{% for c in state.big %}{% endfor %}{% endfor %}{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ 'x' }}" + "y" * (1024 * 1024),
    "{{ '%999999999d' % 1 }}",
    "{{ 'a' | center(1000000000) }}",
    "{{ 'a'.ljust(1000000000) }}",
    "{{ [1] | batch(1000000000, 'x') | list }}",
    "{{ 'ab' | replace('', 'x' * 100000) }}{{ ('y' * 1000) | replace('', 'x' * 10000) }}",
    "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x' * 1000, 60) }}",
]


@pytest.mark.parametrize("source", BUDGET_PAYLOADS)
def test_sec11_budget_payload_fails_within_one_second(engine: TemplateEngine, source: str) -> None:
    ctx = _ctx()
    start = time.process_time()
    with pytest.raises(ResolutionFailed):
        engine.evaluate(source, ctx)
    assert time.process_time() - start < 1.0
