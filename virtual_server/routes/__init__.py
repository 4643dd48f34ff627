"""Route handlers, one module per route family (wire-api.md §5)."""

from __future__ import annotations

from typing import Any

from virtual_server.routes.execute import respond, resume_confirm, start
from virtual_server.routes.health import health
from virtual_server.routes.media import media_file, media_preview
from virtual_server.routes.mock_data import mock_data
from virtual_server.routes.reads import events, generations, interaction_history, state
from virtual_server.routes.sub_action import sub_action

ROUTES: list[Any] = [start, respond, resume_confirm, sub_action, state, interaction_history,
                     generations, events, mock_data, health, media_file, media_preview]
