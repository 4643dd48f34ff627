"""`api.fetch` (modules.md §7.2): one guarded HTTP request, or a deterministic stub in mock mode.

The address checks (public hosts only, no redirects, size cap) live in the fetcher of
`providers/` (PRV-17); this module only validates the URL, shapes the request and the outputs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from engine.errors import ModuleExecutionError
from engine.jsonutil import canonical_json
from engine.mock_data import generate_mock
from engine.modules.base import ExecutableModule, ExecutionContext, ModuleInput, ModuleOutput
from engine.provider_types import ProviderError
from engine.sanitize import sanitize_message

MAX_TIMEOUT_S = 60.0


class ApiFetchModule(ExecutableModule):
    module_id: ClassVar[str] = "api.fetch"
    inputs: ClassVar[tuple[ModuleInput, ...]] = (
        ModuleInput(name="url", type="string"),
        ModuleInput(name="base_url", type="string", required=False),
        ModuleInput(name="method", type="string", required=False, default="GET"),
        ModuleInput(name="headers", type="object", required=False),
        ModuleInput(name="body", type="any", required=False),
        ModuleInput(name="params", type="object", required=False),
        ModuleInput(name="timeout", type="number", required=False, default=30),
        ModuleInput(name="extract_path", type="string", required=False),
        ModuleInput(name="error_on_failure", type="boolean", required=False, default=True),
    )
    outputs: ClassVar[tuple[ModuleOutput, ...]] = (
        ModuleOutput(name="response", type="any"),
        ModuleOutput(name="status_code", type="integer"),
        ModuleOutput(name="success", type="boolean"),
    )

    def execute(self, inputs: dict[str, Any], context: ExecutionContext) -> dict[str, Any]:
        method = str(inputs.get("method") or "GET").upper()
        url = _full_url(inputs["url"], inputs.get("base_url"))
        if context.mock:
            seed = int.from_bytes(
                hashlib.sha256(canonical_json({"method": method, "url": url})).digest()[:8], "big")
            return {"response": {"mock": True, "message": generate_mock(None, seed)},
                    "status_code": 200, "success": True}
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModuleExecutionError("api.fetch: only http and https URLs are allowed")
        timeout = min(float(inputs.get("timeout") or 30), MAX_TIMEOUT_S)
        headers = {str(k): str(v) for k, v in (inputs.get("headers") or {}).items()}
        body = inputs.get("body")
        if body is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            headers["Content-Type"] = "application/json"
        try:
            status, _headers, raw = context.providers.fetcher().fetch(
                method, url, headers, body, inputs.get("params"), timeout)
        except ProviderError as exc:
            secrets = list((context.credentials or {}).values()) + list(headers.values())
            raise ModuleExecutionError(
                "api.fetch: " + sanitize_message(exc.message, secrets)) from None
        response = _parse_body(raw)
        if inputs.get("extract_path"):
            response = extract(response, str(inputs["extract_path"]))
        success = 200 <= status < 300
        if not success and inputs.get("error_on_failure", True) is not False:
            raise ModuleExecutionError(f"HTTP {status} from {parts.hostname}")
        return {"response": response, "status_code": status, "success": success}


def _full_url(url: str, base_url: str | None) -> str:
    if base_url and not urlsplit(url).scheme:
        return urljoin(base_url.rstrip("/") + "/", url)
    return url


def _parse_body(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return {"text": text}


def extract(value: Any, path: str) -> Any:
    """Dot path where numeric parts index arrays; anything missing yields None."""
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if -len(current) <= index < len(current):
                current = current[index]
            else:
                return None
        else:
            return None
    return current
