"""The state shapes a workflow editor and the web UI read (issue 9 item 5), built from events.

Pure functions over lineage events and stored documents, shared by both servers:

- `editor_flat_state`: the flat state of ENG-18 with one difference — a module's entry is its
  outputs *plus* `_state_mapped` (the keys that module mapped), which is how a client tells which
  state keys a module produced (the editor's state panel groups keys by it);
- `steps_tree`: `{step_id: {module_name: {event_type: data}}}` with `_metadata.node_type` on each
  level; a `module_completed` node is the module's outputs plus `_state_mapped`;
- `files_tree`: workflow files and generated media as a tree of `{_meta, children}` nodes.

Where a module has several events of one type in the lineage (a retry, a jump back), the latest
sits at the bare key so the tree shows what the state holds now; earlier ones follow, oldest
first, as `<event_type>.1`, `<event_type>.2`, … (engine.md §6.3 as amended by the README).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from engine.clock import iso_z

Doc = dict[str, Any]

STATE_EVENTS = ["module_completed", "sub_action_completed"]


def completed_node(data: Doc) -> Doc:
    """A `module_completed` payload as clients read it: outputs with `_state_mapped`."""
    outputs = data.get("outputs")
    node = dict(outputs) if isinstance(outputs, dict) else {}
    node["_state_mapped"] = dict(data.get("state_mapped") or {})
    return node


def editor_flat_state(events: Iterable[Doc]) -> Doc:
    """ENG-18's fold, with each module entry carrying its `_state_mapped`."""
    state: Doc = {}
    for event in events:
        kind = event["event_type"]
        data = event.get("data") or {}
        if kind == "module_completed":
            state[str(event["module_name"])] = completed_node(data)
            state.update(data.get("state_mapped") or {})
        elif kind == "sub_action_completed":
            state.update(data.get("state_mapped") or {})
    return state


def _node(kind: str, data: Doc) -> Doc:
    payload = completed_node(data) if kind == "module_completed" else data
    return {"_metadata": {"node_type": "event_data", "event_type": kind}, **payload}


def steps_tree(events: Iterable[Doc]) -> Doc:
    """Every module-scoped lineage event under its step and module, in first-seen order."""
    seen: dict[str, dict[str, dict[str, list[Doc]]]] = {}
    for event in events:
        module = event.get("module_name")
        if not module:
            continue
        step = str(event.get("step_id") or "_unknown")
        kinds = seen.setdefault(step, {}).setdefault(str(module), {})
        kinds.setdefault(str(event["event_type"]), []).append(event.get("data") or {})
    tree: Doc = {"_metadata": {"node_type": "steps_container"}}
    for step, modules in seen.items():
        step_node: Doc = {"_metadata": {"node_type": "step"}}
        for module, kinds in modules.items():
            module_node: Doc = {"_metadata": {"node_type": "module"}}
            for kind, payloads in kinds.items():
                module_node[kind] = _node(kind, payloads[-1])
                for number, data in enumerate(payloads[:-1], start=1):
                    module_node[f"{kind}.{number}"] = _node(kind, data)
            step_node[module] = module_node
        tree[step] = step_node
    return tree


# ---------------------------------------------------------------------- files


def _date_label(value: Any) -> str:
    return value.strftime("%b %d, %H:%M") if isinstance(value, datetime) else "Unknown"


def _folder(name: str, children: list[Doc], link: str | None) -> Doc:
    meta: Doc = {"display_name": name, "icon": "folder"}
    if link is not None:
        meta["download_url"] = link
    return {"_meta": meta, "children": children}


def _file_leaf(doc: Doc, base: str | None, category: str, step: str) -> Doc:
    filename = str(doc.get("filename") or "unknown")
    content_type = str(doc.get("content_type") or "text")
    file_id = str(doc.get("file_id"))
    meta: Doc = {"display_name": filename,
                 "icon": "json" if content_type == "json" or filename.endswith(".json") else "text",
                 "leaf": True, "content_type": content_type, "file_id": file_id,
                 "created_at": iso_z(doc.get("created_at"))}
    if base is not None:
        group = doc.get("group_id")
        meta["content_url"] = f"{base}/files/{file_id}"
        meta["download_url"] = (f"{base}/files/{category}/{step}/{group}/{file_id}" if group
                                else f"{base}/files/{category}/{file_id}")
    return {"_meta": meta}


def _workflow_files(files: list[Doc], base: str | None) -> list[Doc]:
    """category → step (files without a step sit under the category) → group when several."""
    grouped: dict[str, dict[str, dict[Any, list[Doc]]]] = {}
    for doc in sorted(files, key=lambda f: (f.get("created_at") is None, f.get("created_at"))):
        category = doc.get("category")
        if not category:
            continue
        step = str((doc.get("metadata") or {}).get("step_id") or "_ungrouped")
        grouped.setdefault(str(category), {}).setdefault(step, {}).setdefault(
            doc.get("group_id"), []).append(doc)
    out: list[Doc] = []
    for category, steps in grouped.items():
        cat_children: list[Doc] = []
        for step, groups in steps.items():
            step_children: list[Doc] = []
            for group, docs in groups.items():
                leaves = [_file_leaf(d, base, category, step) for d in docs]
                if len(groups) > 1 and group:
                    link = f"{base}/files/{category}/{step}/{group}/download" if base else None
                    step_children.append(_folder(_date_label(docs[0].get("created_at")),
                                                 leaves, link))
                else:
                    step_children.extend(leaves)
            if step == "_ungrouped":
                cat_children.extend(step_children)
            else:
                link = f"{base}/files/{category}/{step}/download" if base else None
                cat_children.append(_folder(step, step_children, link))
        out.append(_folder(category, cat_children,
                           f"{base}/files/{category}/download" if base else None))
    return out


def _media_leaf(item: Doc, provider: str, metadata_id: str, base: str | None) -> Doc:
    content_id = str(item.get("generated_content_id"))
    ext = str(item.get("extension") or "")
    content_type = str(item.get("content_type") or "image")
    meta: Doc = {"display_name": f"{content_id}.{ext}" if ext else content_id,
                 "icon": content_type if content_type in ("video", "audio") else "image",
                 "leaf": True, "content_type": content_type, "content_url": item.get("url")}
    if base is not None:
        meta["download_url"] = f"{base}/media/{provider}/{metadata_id}/{content_id}"
    return {"_meta": meta}


def _media(generations: list[tuple[Doc, list[Doc]]], base: str | None) -> Doc | None:
    """provider → generation (by date; flattened when a provider has one) → items."""
    by_provider: dict[str, list[Doc]] = {}
    for meta, items in generations:
        provider = str(meta.get("provider") or "unknown")
        metadata_id = str(meta.get("content_generation_metadata_id"))
        leaves = [_media_leaf(i, provider, metadata_id, base)
                  for i in sorted(items, key=lambda i: i.get("index") or 0)
                  if i.get("content_type") != "video.preview"]
        if leaves:
            link = f"{base}/media/{provider}/{metadata_id}/download" if base else None
            by_provider.setdefault(provider, []).append(
                _folder(_date_label(meta.get("created_at")), leaves, link))
    if not by_provider:
        return None
    providers = []
    for provider, groups in by_provider.items():
        link = f"{base}/media/{provider}/download" if base else None
        children = groups[0]["children"] if len(groups) == 1 else groups
        providers.append(_folder(provider, children, link))
    return _folder("media", providers, f"{base}/media/download" if base else None)


def files_tree(files: list[Doc], generations: list[tuple[Doc, list[Doc]]],
               base: str | None = None) -> list[Doc]:
    """The run's files as `{_meta, children}` nodes; `base` (e.g. `/workflow/<id>`) adds the
    download and content links of a server that has file routes, None leaves them out."""
    tree = _workflow_files(files, base)
    media = _media(generations, base)
    if media is not None:
        tree.append(media)
    return tree


__all__ = ["STATE_EVENTS", "completed_node", "editor_flat_state", "files_tree", "steps_tree"]
