"""`EngineContext`: everything an engine operation may use, built once per engine.

Operations are plain functions of a context (not methods of the engine facade), so an operation
module imports the operations it builds on and never calls back up into `WorkflowEngine`. The
context is frozen: an operation can read the store or the clock but cannot swap them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.content_cache import ContentCache
from engine.fold_cache import FoldCache
from engine.llm_call import LLMHelper
from engine.locks import RunLocks
from engine.modules.registry import ModuleRegistry
from engine.ports import Clock, IdGenerator, PipelineEvaluator, ProviderSet, Store
from engine.settings import EngineSettings
from engine.templating import TemplateEngine

#: which server the engine serves: the run documents' `mode`, child run id prefixes
Mode = Literal["production", "virtual"]


@dataclass(frozen=True)
class EngineContext:
    store: Store
    providers: ProviderSet
    registry: ModuleRegistry
    pipeline: PipelineEvaluator
    clock: Clock
    ids: IdGenerator
    settings: EngineSettings
    mode: Mode
    templates: TemplateEngine = field(init=False)
    llm: LLMHelper = field(default_factory=LLMHelper)
    locks: RunLocks = field(default_factory=RunLocks)
    #: content hashes of validated workflows (engine/workflow_cache.py); a server keeps one per
    #: process and hands it to every engine it builds, None: validate every time
    workflow_checks: ContentCache[str] | None = None
    #: folded runs between operations (engine/fold_cache.py); a server may share one between
    #: the engines it builds, as long as their ids come from one generator
    folds: FoldCache | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "templates", TemplateEngine(self.settings))
        if self.folds is None:
            s = self.settings
            object.__setattr__(self, "folds", FoldCache(s.caches, s.cache_max_bytes,
                                                        s.cache_max_entries))

