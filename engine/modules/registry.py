"""The module registry (MOD-core-3, README GEN-6): one explicit list, fresh instances per lookup.

Every module and addon class is imported here, so a broken module fails startup instead of the
first run that uses it. Lookups return a new instance each time (modules are stateless,
MOD-core-1).
"""

from __future__ import annotations

from typing import Any, Iterable

import msgspec

from engine.errors import ModuleNotRegistered
from engine.modules.addons.base import SelectAddon
from engine.modules.addons.compatibility import CompatibilityAddon
from engine.modules.addons.usage_history import UsageHistoryAddon
from engine.modules.api.fetch import ApiFetchModule
from engine.modules.api.llm import ApiLlmModule
from engine.modules.base import ModuleBase
from engine.modules.db.query import DbQueryModule
from engine.modules.io.client_write import IoClientWriteModule
from engine.modules.io.load_json import IoLoadJsonModule
from engine.modules.io.render_template import IoRenderTemplateModule
from engine.modules.io.save_json import IoSaveJsonModule
from engine.modules.io.validate import IoValidateModule
from engine.modules.io.weighted_keywords import IoWeightedKeywordsModule
from engine.modules.io.write_text import IoWriteTextModule
from engine.modules.media.generate import MediaGenerateModule
from engine.modules.media.generate_v2 import MediaGenerateV2Module
from engine.modules.prompt.build_grouped_prompt import BuildGroupedPromptModule
from engine.modules.transform.build_dynamic_schema import BuildDynamicSchemaModule
from engine.modules.transform.concat_arrays import ConcatArraysModule
from engine.modules.transform.conditional_text import ConditionalTextModule
from engine.modules.transform.enrich import EnrichModule
from engine.modules.transform.extract import ExtractModule
from engine.modules.transform.parse_pattern import ParsePatternModule
from engine.modules.transform.query import QueryModule
from engine.modules.transform.render_template_array import RenderTemplateArrayModule
from engine.modules.transform.reshape import ReshapeModule
from engine.modules.user.file_input import UserFileInputModule
from engine.modules.user.form import UserFormModule
from engine.modules.user.pause import UserPauseModule
from engine.modules.user.select import UserSelectModule
from engine.modules.user.text_input import UserTextInputModule

MODULE_CLASSES: tuple[type[ModuleBase], ...] = (
    ApiLlmModule, ApiFetchModule, DbQueryModule,
    IoLoadJsonModule, IoSaveJsonModule, IoWriteTextModule, IoClientWriteModule,
    IoRenderTemplateModule, IoValidateModule, IoWeightedKeywordsModule,
    MediaGenerateModule, MediaGenerateV2Module,
    BuildGroupedPromptModule,
    BuildDynamicSchemaModule, ConcatArraysModule, ConditionalTextModule, EnrichModule,
    ExtractModule, ParsePatternModule, QueryModule, RenderTemplateArrayModule, ReshapeModule,
    UserSelectModule, UserTextInputModule, UserFormModule, UserFileInputModule, UserPauseModule,
)
ADDON_CLASSES: tuple[type[SelectAddon], ...] = (UsageHistoryAddon, CompatibilityAddon)
#: what the registry holds: module classes and the addon classes of `user.select`
Registrable = type[ModuleBase] | type[SelectAddon]


class DuplicateModuleId(RuntimeError):
    """Two registered classes claim the same id (a startup error)."""


class ModuleRegistry:
    def __init__(self, classes: Iterable[Registrable]) -> None:
        self._classes: dict[str, Registrable] = {}
        for cls in classes:
            module_id = cls.module_id
            if module_id in self._classes:
                raise DuplicateModuleId(f"Module id '{module_id}' registered twice")
            self._classes[module_id] = cls

    def get(self, module_id: str) -> Any:
        """A fresh instance, or `ModuleNotRegistered`."""
        cls = self._classes.get(module_id)
        if cls is None:
            raise ModuleNotRegistered(f"Module '{module_id}' is not registered")
        return cls()

    def __contains__(self, module_id: object) -> bool:
        return module_id in self._classes

    def ids(self) -> list[str]:
        return sorted(self._classes)

    def addon_ids(self) -> list[str]:
        return sorted(i for i, c in self._classes.items() if getattr(c, "kind", None) == "addon")

    def catalog(self) -> list[dict[str, Any]]:
        """Declarations (id, kind, interaction type, inputs, outputs), sorted by id."""
        return [{
            "module_id": module_id,
            "kind": cls.kind,
            "interaction_type": cls.interaction_type,
            "accepts_undeclared_inputs": bool(getattr(cls, "accepts_undeclared_inputs", False)),
            "inputs": [msgspec.to_builtins(i) for i in cls.inputs],
            "outputs": [msgspec.to_builtins(o) for o in cls.outputs],
        } for module_id, cls in sorted(self._classes.items())]


def default_registry() -> ModuleRegistry:
    return ModuleRegistry((*MODULE_CLASSES, *ADDON_CLASSES))
