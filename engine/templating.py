"""Run-time input resolution with the sandboxed Jinja2 environment (workflow-format.md §10–§13).

`TemplateEngine.resolve_inputs` applies the `resolver_schema` rules of §10, `evaluate` the string
rules of §11 (pure expressions give native values), `render` always yields a string. Every
failure becomes `ResolutionFailed` naming the input path (TPL-7). Each render gets its own budget
(SEC-6), so one engine instance is safe to share between worker threads.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any, Callable

from jinja2.exceptions import SecurityError, TemplateSyntaxError

from engine.errors import ResolutionFailed
from engine.ports import Clock
from engine.sandbox import compiled_expression, compiled_template
from engine.sandbox_budget import Budget, BudgetExceeded, NonDataValue, activate, text_size
from engine.sandbox_proxies import wrap
from engine.sandbox_sizes import unwrap_to_data
from engine.settings import EngineSettings

RESOLVER_KEY = "resolver_schema"


class _Failure(Exception):
    """Internal: a resolution failure whose reason still lacks the input path."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def copy_json(value: Any) -> Any:
    """Fast deep copy of JSON data (literal input copies, state snapshots)."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def _describe(exc: BaseException) -> str:
    """The reason text of a failure; user text is concatenated, never formatted (SEC-9)."""
    if isinstance(exc, _Failure):
        return exc.reason
    if isinstance(exc, BudgetExceeded):
        return "template budget exceeded: " + str(exc)
    if isinstance(exc, SecurityError):
        return "template security violation: " + str(exc)
    if isinstance(exc, TemplateSyntaxError):
        return "Jinja2 syntax error: " + str(exc.message)
    if isinstance(exc, NonDataValue):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "template recursion limit exceeded"
    if isinstance(exc, MemoryError):
        return "template ran out of memory"
    return "template error: " + type(exc).__name__ + ": " + str(exc)


class TemplateEngine:
    """Evaluates module inputs against the §12 namespace under the settings' limits."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings

    # ------------------------------------------------------------ public API
    def resolve_inputs(self, inputs: dict[str, Any], context: dict[str, Any],
                       path: str = "inputs") -> dict[str, Any]:
        """`resolve(inputs, inherited=false)` of §10 (TPL-1)."""
        result = self._resolve(inputs, False, path, context)
        return result if isinstance(result, dict) else {}

    def evaluate(self, source: str, context: dict[str, Any], path: str = "inputs") -> Any:
        """String rules of §11: unchanged, native value (pure expression) or rendered text."""
        if "{{" not in source and "{%" not in source:
            return source
        return self._guard(lambda: self._evaluate(source, context), path)

    def render(self, source: str, context: dict[str, Any], path: str | None = None) -> str:
        """Always render as a template (status_display, io.render_template and friends)."""
        if "{" not in source and "\r" not in source and not source.endswith("\n"):
            return source
        rendered: str = self._guard(lambda: self._render(source, context), path)
        return rendered

    # ------------------------------------------------------------ resolver_schema rules
    def _resolve(self, value: Any, inherited: bool, path: str, context: dict[str, Any]) -> Any:
        if isinstance(value, dict):
            if RESOLVER_KEY in value:
                return self._resolve_marked(value, inherited, path, context)
            if not inherited:
                return copy_json(value)
            return {key: self._resolve(item, True, path + "." + key, context)
                    for key, item in value.items()}
        if isinstance(value, list):
            if not inherited:
                return copy_json(value)
            return [self._resolve(item, True, path + "[" + str(index) + "]", context)
                    for index, item in enumerate(value)]
        if isinstance(value, str) and inherited:
            return self.evaluate(value, context, path)
        return value

    def _resolve_marked(self, value: dict[str, Any], inherited: bool, path: str,
                        context: dict[str, Any]) -> dict[str, Any]:
        schema = value[RESOLVER_KEY]
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        props = props if isinstance(props, dict) else {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == RESOLVER_KEY:
                continue
            marker = props.get(key)
            mode = marker.get("resolver") if isinstance(marker, dict) else None
            if mode == "server":
                out[key] = self._resolve(item, True, path + "." + key, context)
            elif mode == "client":
                out[key] = copy_json(item)
            else:
                out[key] = self._resolve(item, inherited, path + "." + key, context)
        return out

    # ------------------------------------------------------------ evaluation
    def _guard(self, action: Callable[[], Any], path: str | None) -> Any:
        try:
            return action()
        except ResolutionFailed:
            raise
        except (Exception, RecursionError, MemoryError) as exc:  # noqa: BLE001 - all become TPL-7
            reason = _describe(exc)
            message = reason if path is None else path + ": " + reason
            raise ResolutionFailed(message, details={"path": path, "reason": reason}) from None

    def _check_source(self, source: str) -> None:
        limit = self._settings.template_max_source_bytes
        if len(source) > limit // 4 and text_size(source) > limit:
            raise _Failure("template source exceeds " + str(limit) + " bytes")

    def _evaluate(self, source: str, context: dict[str, Any]) -> Any:
        self._check_source(source)
        stripped = source.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and len(stripped) >= 4:
            inner = stripped[2:-2]
            if "{{" not in inner and "}}" not in inner:
                budget = Budget(self._settings)
                found, value = self._try_expression(inner, context, budget)
                if found:
                    with activate(budget):
                        return unwrap_to_data(value, budget)
                return self._render("{{ " + inner.strip() + " }}", context)
        return self._render(source, context)

    def _try_expression(self, inner: str, context: dict[str, Any],
                        budget: Budget) -> tuple[bool, Any]:
        """Evaluate a pure expression; (False, None) on an ordinary template error (§11 step 2).

        Budget and security errors, and the errors of arithmetic that went out of range
        (`OverflowError`, `MemoryError`, `RecursionError`), are failures, never the fallback."""
        try:
            expression = compiled_expression(inner)
            with activate(budget):
                return True, expression(self._wrap_context(context, budget))
        except (SecurityError, RecursionError, MemoryError, OverflowError):
            raise
        except Exception:  # noqa: BLE001 - the fallback renders the expression as text
            return False, None

    def _render(self, source: str, context: dict[str, Any]) -> str:
        self._check_source(source)
        template = compiled_template(source)
        limit = self._settings.template_max_output_bytes
        parts: list[str] = []
        total = 0
        with activate(Budget(self._settings)) as budget:
            for chunk in template.generate(self._wrap_context(context, budget)):
                total += text_size(chunk)
                if total > limit:
                    raise BudgetExceeded("output exceeds " + str(limit) + " bytes")
                parts.append(chunk)
        return "".join(parts)

    @staticmethod
    def _wrap_context(context: dict[str, Any], budget: Budget) -> dict[str, Any]:
        return {key: wrap(value, budget) for key, value in context.items()}


def template_context(state: dict[str, Any], step: dict[str, Any], config: dict[str, Any],
                     clock: Clock) -> dict[str, Any]:
    """The §12 namespace (TPL-9): one snapshot shared by `state` and `module`.

    Not copied here: renders see the data only through the per-render counting proxies (each a
    fresh container) of the immutable sandbox, and results are copied out by `unwrap_to_data`,
    so a template cannot change the state; deep-copying the whole state for every module made a
    run quadratic in its number of modules (issue 15).
    """
    snapshot = state

    def now() -> datetime:
        value = clock.now()
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

    return {"state": snapshot, "module": snapshot, "step": step, "config": config, "now": now}
