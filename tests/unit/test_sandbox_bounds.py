"""Issue 15 items 1 and 8: what one template expression may build is bounded before it is built.

Every payload fails with the typed `resolution_failed` error, quickly, and with a bounded peak of
memory (tracemalloc around the render here; the RSS of a fresh process in the subprocess test).
The same payloads are driven over HTTP on both servers in tests/acceptance/test_abuse_bounds.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FixedClock
from engine.errors import ResolutionFailed
from engine.settings import EngineSettings
from engine.templating import TemplateEngine, template_context
from tests.abuse_payloads import ISSUE_PAYLOADS, PAYLOADS, measured

MB = 1024 * 1024
PEAK_LIMIT = 64 * MB
TIME_LIMIT_S = 3.0
ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine(EngineSettings())


def _ctx() -> dict[str, Any]:
    state = {"name": "Cats", "big": list(range(1000)), "text": "hello world " * 1000}
    return template_context(state, {"step_id": "s"}, {},
                            FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))


@pytest.mark.parametrize("source", PAYLOADS)
def test_payload_is_typed_quick_and_bounded(engine: TemplateEngine, source: str) -> None:
    ctx = _ctx()
    outcome, elapsed, peak = measured(lambda: engine.evaluate(source, ctx))
    assert isinstance(outcome, ResolutionFailed), outcome
    assert outcome.error_type == "resolution_failed"
    assert outcome.details["reason"]
    assert elapsed < TIME_LIMIT_S, elapsed
    assert peak < PEAK_LIMIT, peak // MB


@pytest.mark.parametrize("source", ISSUE_PAYLOADS[2:6])
def test_issue_payloads_also_fail_as_mixed_text(engine: TemplateEngine, source: str) -> None:
    outcome, elapsed, peak = measured(lambda: engine.evaluate("text " + source, _ctx()))
    assert isinstance(outcome, ResolutionFailed) and "budget exceeded" in outcome.message
    assert elapsed < TIME_LIMIT_S and peak < PEAK_LIMIT


def test_payloads_in_a_fresh_process_grow_rss_less_than_64_mb() -> None:
    """RSS (ru_maxrss, a high-water mark) of one process rendering every payload in turn."""
    script = (
        "import json, resource, sys\n"
        "from engine.settings import EngineSettings\n"
        "from engine.templating import TemplateEngine\n"
        "engine = TemplateEngine(EngineSettings())\n"
        "ctx = {'state': {'big': list(range(1000))}}\n"
        "engine.evaluate('{{ state.big|tojson }}{{ [1]|list }}{{ \"a\"|upper }}', ctx)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kinds = []\n"
        "for source in json.loads(sys.stdin.read()):\n"
        "    try:\n"
        "        engine.evaluate(source, ctx)\n"
        "        kinds.append('rendered')\n"
        "    except Exception as exc:\n"
        "        kinds.append(type(exc).__name__)\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base\n"
        "print(json.dumps({'grown_kb': grown, 'kinds': kinds}))\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(PAYLOADS), cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kinds"] == ["ResolutionFailed"] * len(PAYLOADS)
    assert result["grown_kb"] * 1024 < PEAK_LIMIT, result["grown_kb"]


# ------------------------------------------------------------------ clear reasons

@pytest.mark.parametrize(("source", "reason"), [
    ("{{ 1e308*10 }}", "non-finite number (inf)"),
    ("{{ 1e308 * 10 - 1e308 * 10 }}", "non-finite number (nan)"),
    ("{{ 2**64 }}", "outside the 64-bit range"),
    ("{{ (2**255)**256 }}", "outside the 64-bit range"),
    ("x {{ (10**256)**17 }}", "too large to convert to text"),
    ("{{ [range(1000)|list] * 10000 }}", "memory limit"),
    ("{{ range(10**9)|list }}", "range of 1000000000 items exceeds the iteration limit"),
])
def test_refusals_name_the_reason(engine: TemplateEngine, source: str, reason: str) -> None:
    with pytest.raises(ResolutionFailed, match=re.escape(reason)):
        engine.evaluate(source, {})


def test_the_limits_of_the_64_bit_range_are_accepted(engine: TemplateEngine) -> None:
    assert engine.evaluate("{{ 2**63 - 1 }}", {}) == 2**63 - 1
    assert engine.evaluate("{{ -(2**63) }}", {}) == -(2**63)
    assert engine.evaluate("{{ 1e308 * 1.5 > 0 }}", {}) is True
    assert engine.evaluate("x {{ 1e308 * 10 }}", {}) == "x inf"  # text is text
    assert engine.evaluate("{{ (2**200)|string|length }}", {}) == 61  # big ints as text


def test_memory_setting_decides_what_a_render_may_build() -> None:
    source = "{{ ([range(1000)|list] * 400)|length }}{{ [range(1000)|list] * 400 }}"
    small = TemplateEngine(EngineSettings(template_max_memory_bytes=1 * MB))
    with pytest.raises(ResolutionFailed, match="memory limit"):
        small.evaluate("{{ [range(1000)|list] * 400 }}", {})
    roomy = TemplateEngine(EngineSettings(template_max_memory_bytes=32 * MB))
    assert len(roomy.evaluate("{{ [range(1000)|list] * 400 }}", {})) == 400
    assert roomy.render(source.split("}}")[0] + "}}", {}) == "400"


# ------------------------------------------------------------------ legit use keeps working

def test_moderate_shared_values_still_materialise(engine: TemplateEngine) -> None:
    ctx = _ctx()
    assert engine.evaluate("{{ ([state.big] * 50)|tojson|length }}", ctx) > 100_000
    assert engine.evaluate("{{ ([range(100)|list] * 100)|string|length }}", ctx) == 39_200
    assert engine.evaluate("{{ ([[1, 2]] * 3)|sum(start=[]) }}", ctx) == [1, 2, 1, 2, 1, 2]
    assert engine.evaluate("{{ state.text.split()|length }}", ctx) == 2000
    assert engine.evaluate("{{ [1, 2, 3]|slice(2)|list }}", ctx) == [[1, 2], [3]]
    assert engine.evaluate("{{ range(5)|map('string')|join('-') }}", ctx) == "0-1-2-3-4"
    assert engine.evaluate("{{ range(200000)|first }}", ctx) == 0
    assert engine.render("{% set x %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %}"
                         "{{ x }}", ctx) == "012"
