"""Hostile template payloads of issue 15 (items 1 and 8) shared by the engine and HTTP tests,
and the helper that measures time and peak memory of one attempt."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

# The issue's payloads first, then our own: every way we found to make one expression build a
# lot (repetition, concatenation, big integers, materialising filters and methods, captured
# blocks, lazy chains, preallocating consumers, quadratic arithmetic).
ISSUE_PAYLOADS = [
    "{{ (2**255)**256 }}",
    "{{ (10**256)**17 }}",
    "{{ [range(1000)|list] * 10000 }}",
    "{{ ([range(1000)|list] * 100000)|string|length }}",
    "{{ ([range(1000)|list] * 100000)|tojson|length }}",
    "{{ ([range(10000)|list] * 600)|sum(start=[])|length }}",
    "{{ 1e308*10 }}",
]
OWN_PAYLOADS = [
    "{{ 'a' * 10**9 }}",
    "{{ 'x' ~ ([range(1000)|list] * 10000) }}",
    "{{ ([range(1000)|list] * 1000)|join(',') }}",
    "{{ ([range(1000)|list] * 100000)|pprint|length }}",
    "{{ ([range(1000)|list] * 100000)|map('tojson')|list|length }}",
    "{{ ([range(1000)|list] * 100000)|map('join', ',')|join|length }}",
    "{{ ([[range(100)|list] * 100] * 100)|tojson|length }}",
    "{{ ([range(1000)|list] * 100000)|e|length }}",
    "{{ ([range(1000)|list] * 100000)|urlencode|length }}",
    "{{ ([range(1000)|list] * 100000)|upper|length }}",
    "{{ ([range(1000)|list] * 100000)|center(10) }}",
    "{{ range(10**9)|list|length }}",
    "{{ range(10**9)|map('string')|list|length }}",
    "{{ ','.join(range(10**9)) }}",
    "{{ dict.fromkeys(range(10**9))|length }}",
    "{{ ([0] * 130000)|unique|list|length }}",
    "{{ ([[0] * 1000] * 1000)|sum(start=[])|length }}",
    "{{ (['ab'] * 100000)|sum(start='')|length }}",
    "{{ lipsum(10**6) }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ 'x'.center(10**9) }}",
    "{{ ('a\\tb' * 100000).expandtabs(10**4)|length }}",
    "{{ ('ab' * 100000).replace('', 'x' * 1000)|length }}",
    "{{ ('ab ' * 300000).split()|length }}",
    "{{ ('\\n' * 1000000).splitlines()|length }}",
    "{{ (0).to_bytes(10**9, 'big')|length }}",
    "{{ ('ab' * 500000).encode().hex()|length }}",
    "{{ 'a'|indent(10**9) }}",
    "{{ ('a ' * 400000)|wordwrap(1)|length }}",
    "{{ ('hello world ' * 80000)|title|length }}",
    "{{ [1]|batch(10**9, 'x')|list }}",
    "{{ ('x'|e).ljust(10**9)|length }}",
    "{{ ('x'|e).join([range(1000)|list] * 100000)|length }}",
    "{{ (('ab ' * 300000)|e).striptags()|length }}",
    "{{ ('x'|tojson).center(10**9) }}",
    "{{ now().strftime('%c' * 300000)|length }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ (('f' * 1000000)|int(base=16)) // 7 }}",
    "{{ (2 ** 256) ** 256 }}",
    "x {{ (10**256)**17 }}",
    "{{ 1e308 * 10 - 1e308 * 10 }}",
    "{{ [1, 1e308 * 10] }}",
    "{{ {'a': -1e308 * 10} }}",
    "{% set s = 'a' * 1000000 %}{% set x %}{% for i in range(100000) %}{{ s }}{% endfor %}"
    "{% endset %}{{ x|length }}",
    "{% set s = 'a' * 1000000 %}{% filter upper %}{% for i in range(1000) %}{{ s }}{% endfor %}"
    "{% endfilter %}",
    "{% set s = 'a' * 1000000 %}{% for i in range(100000) %}{% set t = s.upper() %}{% endfor %}",
    "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 60) }}",
    "{% macro f(n) %}{{ f(n * n) }}{% endmacro %}{{ f(3) }}",
]
PAYLOADS = ISSUE_PAYLOADS + OWN_PAYLOADS


def outcome_of(action: Any) -> Any:
    try:
        return action()
    except Exception as exc:
        return exc


def measured(action: Any) -> tuple[Any, float, int]:
    """(outcome, CPU seconds, peak bytes allocated above the start): the time is taken on a
    plain run, the peak on a second run under tracemalloc (which slows allocation-heavy code).

    The time is this process's CPU time, not wall-clock time: it is the work a payload costs,
    which stays the same on a loaded machine where other processes stretch the wall clock."""
    started = time.process_time()
    outcome = outcome_of(action)
    elapsed = time.process_time() - started
    tracemalloc.start()
    try:
        start_bytes = tracemalloc.get_traced_memory()[0]
        again = outcome_of(action)
        peak = tracemalloc.get_traced_memory()[1] - start_bytes
    finally:
        tracemalloc.stop()
    assert type(again) is type(outcome)
    return outcome, elapsed, peak
