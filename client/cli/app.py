"""`wfe`: the command line for workflow authors (typer for arguments, rich for the terminal).

    wfe validate FOLDER [--entry F] [--resolved OUT]
    wfe run FOLDER [--entry F] [--mock] [--answers FILE] [--to STEP/MODULE] [--save-blob PATH]
    wfe blob inspect BLOB|-
    wfe login [SERVER] [--username U] (--password-file F | --password-stdin)

Runs happen in this process on the embedded store (no server needed); a saved blob is a
`virtual_db` the virtual server accepts. Exit codes: 0 done, 1 the run or check failed,
2 bad input (unreadable folder, answers file or blob).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from client.cli.answers import Answers, AnswersError
from client.cli.blob_info import BlobInputError, inspect_blob
from client.cli.load import LoadError, describe_invalid, load_workflow, unregistered_modules
from client.cli.local_run import LocalRun, RunOptions
from client.cli.login import LoginError
from client.cli.login import login as login_to
from client.cli.run_loop import RunLoop, RunStopped
from engine import EngineError, EngineSettings, Target, WorkflowInvalid, validate_workflow

app = typer.Typer(help="Validate, run and inspect workflows without a server.",
                  no_args_is_help=True, add_completion=False)
blob_app = typer.Typer(help="Inspect virtual_db blobs.", no_args_is_help=True)
app.add_typer(blob_app, name="blob")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

Folder = Annotated[Path, typer.Argument(help="workflow folder (or one resolved JSON file)")]
Entry = Annotated[Optional[str], typer.Option("--entry", help="entry file inside the folder")]


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _load(folder: Path, entry: str | None) -> tuple[dict[str, Any], str]:
    try:
        return load_workflow(folder, entry)
    except LoadError as exc:
        raise fail(str(exc)) from None
    except WorkflowInvalid as exc:
        raise fail(f"workflow invalid: {describe_invalid(exc)}", 1) from None


@app.command()
def validate(folder: Folder, entry: Entry = None,
             resolved: Annotated[Optional[Path], typer.Option(
                 "--resolved", help="also write the resolved workflow JSON here")] = None) -> None:
    """Resolve $refs and validate a workflow; list its steps and modules."""
    workflow, name = _load(folder, entry)
    try:
        validate_workflow(workflow, EngineSettings())
    except WorkflowInvalid as exc:
        raise fail(f"workflow invalid: {describe_invalid(exc)}", 1) from None
    table = Table("step", "module", "module_id", title=f"{workflow['workflow_id']} ({name})")
    families = set()
    for step in workflow["steps"]:
        for module in step.get("modules") or []:
            table.add_row(step["step_id"], module.get("name") or module["module_id"],
                          module["module_id"])
            families.add(str(module["module_id"]).split(".")[0])
    console.print(table)
    for module_id in unregistered_modules(workflow):
        console.print(f"[yellow]warning:[/] module {module_id} is not registered (fails when "
                      "reached)")
    modules = sum(len(step.get("modules") or []) for step in workflow["steps"])
    console.print(f"[green]✓ valid[/]: {len(workflow['steps'])} steps, {modules} modules "
                  f"(families: {', '.join(sorted(families))})")
    if resolved is not None:
        resolved.write_text(json.dumps(workflow, ensure_ascii=False), encoding="utf-8")
        console.print(f"resolved workflow written to {resolved}")


def _target(text: str | None) -> Target | None:
    if not text:
        return None
    step, sep, module = text.partition("/")
    if not sep or not step or not module:
        raise fail("--to takes STEP/MODULE, e.g. --to draft/write_haiku")
    return Target(step_id=step, module_name=module)


@app.command()
def run(folder: Folder, entry: Entry = None,
        mock: Annotated[bool, typer.Option("--mock", help="mock providers (no keys, no calls)")] = False,
        answers: Annotated[Optional[Path], typer.Option(
            "--answers", help="JSON answers by module name (see client/cli/answers.py)")] = None,
        to: Annotated[Optional[str], typer.Option(
            "--to", metavar="STEP/MODULE", help="stop after this module")] = None,
        save_blob: Annotated[Optional[Path], typer.Option(
            "--save-blob", help="write the run as a virtual_db blob")] = None,
        files_dir: Annotated[Optional[Path], typer.Option(
            "--files-dir", help="write file downloads of the run here")] = None,
        show_state: Annotated[bool, typer.Option(
            "--state", help="print the final state as JSON")] = False) -> None:
    """Run a workflow in this process, asking interactions in the terminal or from --answers."""
    workflow, _name = _load(folder, entry)
    target = _target(to)
    try:
        script = Answers.load(answers) if answers is not None else None
    except AnswersError as exc:
        raise fail(str(exc)) from None
    loop = RunLoop(console, script, files_dir=files_dir)
    local = LocalRun(workflow, RunOptions(mock=mock, target=target), progress=loop.on_progress)
    try:
        response = loop.drive(local)
    except WorkflowInvalid as exc:
        raise fail(f"workflow invalid: {describe_invalid(exc)}", 1) from None
    except RunStopped as exc:
        _save(local, save_blob)
        raise fail(f"run stopped: {exc}", 1) from None
    except EngineError as exc:
        raise fail(f"{exc.error_type}: {exc.message}", 1) from None
    _save(local, save_blob)
    if show_state and local.run_id:
        print(json.dumps(local.state(), indent=2, ensure_ascii=False, default=str))
    if response.status == "error":
        error_type = (response.result or {}).get("error_type")
        raise fail(f"run failed: {error_type}: {response.error or response.message}", 1)
    console.print(f"[green]✓ {response.status}[/]: {response.message} "
                  f"[dim]({'mock' if mock else 'live'} run {response.workflow_run_id})[/]")


def _save(local: LocalRun, path: Path | None) -> None:
    if path is None or not local.run_id:
        return
    blob = local.blob()
    path.write_text(blob, encoding="ascii")
    console.print(f"blob saved to {path} ({len(blob)} chars; `wfe blob inspect {path}`)")


@blob_app.command("inspect")
def inspect(source: Annotated[str, typer.Argument(
        metavar="BLOB|-", help="a blob file, a response JSON holding virtual_db, or - for stdin")],
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
        ) -> None:
    """Runs, event counts, state keys and sizes of a virtual_db blob."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        info = inspect_blob(text)
    except (OSError, UnicodeDecodeError, BlobInputError) as exc:
        raise fail(f"cannot read {source}: {exc}") from None
    except EngineError as exc:
        raise fail(f"not a valid blob: {exc.message}", 1) from None
    if as_json:
        print(json.dumps(info.to_dict(), indent=2))
        return
    console.print(f"blob: {info.encoded_chars} chars, {info.decompressed_bytes} bytes of JSON")
    sizes = Table("collection", "documents", "bytes")
    for name, (count, size) in info.collections.items():
        sizes.add_row(name, str(count), str(size))
    console.print(sizes)
    for run_info in info.runs:
        parent = f" child of {run_info.parent}" if run_info.parent else ""
        console.print(f"[bold]{run_info.run_id}[/] {run_info.workflow} {run_info.status} at "
                      f"{run_info.position}{' (mock)' if run_info.mock else ''}{parent}",
                      highlight=False)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run_info.events.items()))
        console.print(f"  events: {sum(run_info.events.values())} ({counts})", highlight=False)
        console.print(f"  state keys: {', '.join(run_info.state_keys) or '-'}", highlight=False)


@app.command()
def login(server: Annotated[str, typer.Argument(help="production server URL")] = "http://localhost:9000",
          username: Annotated[str, typer.Option("--username")] = "admin",
          password_file: Annotated[Optional[Path], typer.Option(
              "--password-file", help="read the password from this file")] = None,
          password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False) -> None:
    """Log in to a production server and print an access token (works on both servers)."""
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise fail(f"cannot read {password_file}: {exc}") from None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        raise fail("give --password-file FILE or --password-stdin")
    try:
        print(login_to(server, username, password))
    except LoginError as exc:
        raise fail(str(exc), 1) from None


def main() -> None:
    app()
