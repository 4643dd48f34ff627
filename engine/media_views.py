"""Media questions a client asks about a run outside an interaction: the cost and size preview of
a generation (wire-api.md §6.7 `POST /workflow/{id}/media/preview`, providers.md §4.5)."""

from __future__ import annotations

from typing import Any

import engine.media_catalog as media_catalog
from engine.context import EngineContext
from engine.errors import BadRequest, NotFound, ProviderNotConfigured
from engine.loading import require_run
from engine.provider_types import PreviewInfo, ProviderError
from engine.sanitize import sanitize_message


def media_preview(ctx: EngineContext, user_id: str, run_id: str | None, provider: str,
                  action_type: str, params: dict[str, Any], credentials: dict[str, str],
                  mock: bool = False) -> PreviewInfo:
    """The preview of the provider the run would use: the mock one for a mock run (no keys
    needed), the live client otherwise, whose construction fails without its credential.
    Without a run (the virtual server, which keeps none) `mock` chooses."""
    if run_id is not None:
        run = require_run(ctx, user_id, run_id)
        mock = bool(run.get("mock"))
    actions = media_catalog.PROVIDER_ACTIONS.get(provider)
    if actions is None:
        raise BadRequest(f"Unknown media provider '{provider}'", details={"provider": provider})
    if action_type not in actions:  # a pair outside the table: no such preview
        raise NotFound(f"Provider '{provider}' does not support '{action_type}'",
                       details={"provider": provider, "action_type": action_type})
    try:
        client = ctx.providers.for_call(mock).media(provider, credentials)
        return client.get_preview_info(action_type, client.format_params(dict(params)))
    except ProviderError as exc:
        message = sanitize_message(exc.message, [v for v in credentials.values() if v])
        raise ProviderNotConfigured(f"Provider '{provider}' is unavailable: {message}",
                                    details={"provider": provider}) from None
