"""Asking an interaction in the terminal (rich prompts), one function per interaction type.

Each returns the answer as an answers-file `Answer`, so scripted and typed answers take the same
path through the run loop (sub-actions first, then the response).
"""

from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.prompt import Confirm, IntPrompt, Prompt
from rich.table import Table

from client.cli.answers import Answer
from engine import InteractionRequest


def label_of(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("label", "title", "name", "text", "keyword", "id"):
            if isinstance(item.get(key), str) and item[key]:
                return str(item[key])
        return json.dumps(item, ensure_ascii=False)[:100]
    return str(item)[:100]


def choices(data: Any) -> list[tuple[Any, Any]]:
    """(selection path, item) for every selectable element: array items, or arrays in an object."""
    if isinstance(data, list):
        return [(i, item) for i, item in enumerate(data)]
    if isinstance(data, dict):
        return [([key, i], item) for key, value in data.items() if isinstance(value, list)
                for i, item in enumerate(value)]
    return []


def _numbers(text: str, count: int) -> list[int] | None:
    try:
        picked = [int(part) - 1 for part in text.replace(",", " ").split()]
    except ValueError:
        return None
    return picked if all(0 <= p < count for p in picked) else None


def ask_select(console: Console, req: InteractionRequest) -> Answer:
    found = choices(req.display_data.get("data"))
    table = Table(show_header=False, box=None)
    for n, (_path, item) in enumerate(found, 1):
        table.add_row(f"[bold]{n}[/]", label_of(item))
    console.print(table)
    review = req.interaction_type == "review_grouped"
    multi = req.max_selections != 1
    hint = "numbers, space separated" if multi else "a number"
    while True:
        text = Prompt.ask(f"Pick {hint}" + (" (Enter for none)" if review else ""),
                          console=console, default="" if review else None)
        picked = _numbers(text or "", len(found))
        if picked is not None and (review or picked) and (multi or len(picked) == 1):
            break
        console.print("[red]Not a valid choice[/]")
    return Answer({"selected_indices": [found[p][0] for p in picked]})


def ask_text(console: Console, req: InteractionRequest) -> Answer:
    if req.context.get("pause"):
        if req.default_value:
            console.print(req.default_value)
        Prompt.ask("Press Enter to continue", console=console, default="", show_default=False)
        return Answer({"value": ""})
    return Answer({"value": Prompt.ask(req.title or "Value", console=console,
                                       default=req.default_value or None)})


def _convert(text: str, kind: Any) -> Any:
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text.strip().lower() in ("1", "true", "yes", "y")
    if kind in ("object", "array"):
        return json.loads(text)
    return text


def ask_form(console: Console, req: InteractionRequest) -> Answer:
    data = req.display_data.get("data") or []
    schema = req.form_schema or {}
    defaults = req.form_defaults or [{} for _ in data]
    properties = schema.get("properties") or {}
    entries = []
    for i, item in enumerate(data):
        console.print(f"[bold]{i + 1}.[/] {label_of(item)}")
        entry: dict[str, Any] = {}
        for name, prop in properties.items():
            default = (defaults[i] if i < len(defaults) else {}).get(name)
            while True:
                text: Any = Prompt.ask(f"  {name}", console=console,
                                       default=None if default is None else str(default))
                try:
                    entry[name] = _convert(text, prop.get("type"))
                    break
                except ValueError:
                    console.print(f"[red]{name} must be {prop.get('type')}[/]")
        entries.append(entry)
    return Answer({"form_data": entries})


def ask_file_download(console: Console, req: InteractionRequest, files_dir: Path | None) -> Answer:
    name = Path(req.file_name or "download.txt").name
    content = req.file_content
    text = content if isinstance(content, str) else json.dumps(content, indent=2)
    target = (files_dir or Path.cwd()) / name
    if files_dir is None and not Confirm.ask(f"Write {name} to {target}?", console=console,
                                             default=True):
        return Answer({"file_written": False, "file_error": "declined in the terminal"})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    console.print(f"wrote {target}")
    return Answer({"file_written": True, "file_path": str(target)})


def ask_file_input(console: Console, req: InteractionRequest) -> Answer:
    while True:
        path = Path(Prompt.ask(req.title or "File to upload", console=console)).expanduser()
        if path.is_file():
            break
        console.print(f"[red]{path} is not a file[/]")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data = base64.b64encode(path.read_bytes()).decode()
    return Answer({"value": f"data:{mime};base64,{data}", "file_path": path.name})


def default_media_params(req: InteractionRequest) -> dict[str, Any]:
    """Sub-action params from the request: its first provider and that provider's prompt."""
    providers = list(req.context.get("providers") or [])
    provider = providers[0] if providers else "openai"
    node = ((req.display_data.get("data") or {}).get("prompts") or {}).get(provider) or {}
    prompt = node.get("prompt") if isinstance(node, dict) else None
    return {"provider": provider, "action_type": req.context.get("action_type", "txt2img"),
            "prompt_id": "default", "params": {"prompt": prompt or "an illustration"},
            "source_data": {}}


def ask_media(console: Console, req: InteractionRequest,
              run_sub: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> Answer:
    actions = [a for a in req.display_data.get("sub_actions") or [] if a.get("id")]
    result: dict[str, Any] | None = None
    if actions and Confirm.ask(f"Run {actions[0].get('label') or actions[0]['id']}?",
                               console=console, default=True):  # type: ignore[arg-type]
        params = default_media_params(req)
        console.print(f"params: {json.dumps(params)}")
        result = run_sub(str(actions[0]["id"]), params)
    ids = list((result or {}).get("content_ids") or [])
    if not ids:
        return Answer({"action_id": "continue"})
    pick = IntPrompt.ask(f"Pick 1-{len(ids)}", console=console, default=1,
                         choices=[str(n) for n in range(1, len(ids) + 1)])
    answer = Answer({"action_id": "continue", "select_generated": pick - 1})
    answer.sub_actions = []  # already run
    return answer
