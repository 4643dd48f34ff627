"""The `wfe` pytest plugin used as a user would: from a separate project outside the package
(tests/plugin_project: its own pytest settings, pytest-asyncio strict, no conftest), run in a
subprocess by `pytester` (issue 14 item 3), and the README's example test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests" / "plugin_project"


def test_plugin_project_passes_with_the_installed_plugin(pytester: pytest.Pytester) -> None:
    shutil.copytree(PROJECT, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*test_production_fixture_on_mongodb PASSED*"])


def test_a_failing_expectation_is_reported(pytester: pytest.Pytester) -> None:
    """A wrong expectation fails the user's test (the plugin hides nothing)."""
    shutil.copytree(PROJECT, pytester.path, dirs_exist_ok=True)
    (pytester.path / "test_greeting.py").unlink()
    pytester.makepyfile(test_wrong='''
        import pytest
        from pathlib import Path
        from client.answers import choose_id, fill_form, type_text

        @pytest.mark.asyncio
        async def test_wrong_colour(workflow_run):
            result = await workflow_run(Path(__file__).parent / "workflows" / "greeting", {
                "ask_name": type_text("Ada"), "pick_colour": choose_id("red"),
                "rate_days": fill_form(stars=3)})
            assert result.state["colour"]["id"] == "blue"
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 'red' == 'blue'*"])


def test_the_readme_example_passes(pytester: pytest.Pytester) -> None:
    example = ROOT / "examples" / "test_cuddle_crew_preview.py"
    assert len([line for line in example.read_text().splitlines() if line.strip()]) < 20
    result = pytester.runpytest_subprocess(str(example), "-p", "no:cacheprovider", "--rootdir",
                                           str(ROOT), "-c", str(ROOT / "pyproject.toml"))
    result.assert_outcomes(passed=1)
