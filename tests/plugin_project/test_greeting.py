"""A team's integration tests of its workflow, written with the `wfe` pytest plugin."""

from pathlib import Path

import pytest

from client.answers import choose_id, fill_form, type_text
from client.errors import AnswerError, RunError

WORKFLOW = Path(__file__).parent / "workflows" / "greeting"
SCRIPT = {"ask_name": type_text("Ada"), "pick_colour": choose_id("blue"),
          "rate_days": fill_form([{"stars": 5}, {"stars": 2}])}


@pytest.mark.asyncio
@pytest.mark.parametrize("server", ["virtual", "production"])
async def test_greeting_reaches_its_state(workflow_run, server):
    result = await workflow_run(WORKFLOW, SCRIPT, server=server)
    assert result.status == "completed"
    assert result.state["name"] == "Ada" and result.state["colour"]["id"] == "blue"
    assert [r["stars"] for r in result.state["ratings"]] == [5, 2]
    assert result.event_types[0] == "workflow_created"
    assert result.event_types[-1] == "workflow_completed"


@pytest.mark.asyncio
async def test_step_by_step_on_the_virtual_fixture(wfe_virtual):
    wfe_virtual.use_workflow(WORKFLOW)
    await wfe_virtual.start()
    answered = await wfe_virtual.respond(type_text("Grace"))
    assert answered.state["name"] == "Grace"
    with pytest.raises(AnswerError, match="pending one is .* of pick_colour"):
        await wfe_virtual.respond(type_text("not a colour"))
    history = await wfe_virtual.history()
    assert [i.module_name for i in history.interactions] == ["ask_name"]


@pytest.mark.asyncio
async def test_production_fixture_on_the_embedded_database(wfe_production):
    started = await wfe_production.start(WORKFLOW, project_name="team", mock=True)
    assert started.status == "awaiting_input"
    await wfe_production.respond(type_text("Linus"))
    assert (await wfe_production.state()).state["name"] == "Linus"


@pytest.mark.asyncio
@pytest.mark.wfe_mongodb
async def test_production_fixture_on_mongodb(wfe_production, wfe_mongodb_uri):
    assert wfe_mongodb_uri.startswith("mongodb://127.0.0.1:")
    await wfe_production.start(WORKFLOW, project_name="team", mock=True)
    events = await wfe_production.events()
    assert events.events[0].event_type == "workflow_created"


@pytest.mark.asyncio
async def test_a_script_without_an_answer_says_which(workflow_run):
    with pytest.raises(RunError, match="no .more. answers for ask/pick_colour"):
        await workflow_run(WORKFLOW, {"ask_name": type_text("Ada")})
