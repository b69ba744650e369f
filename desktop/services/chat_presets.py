"""PresetService: the assistants a new chat starts from, Qt-free.

A preset is a name, a system prompt, a provider and model, and parameters
(:class:`desktop.core.models.Preset`). New chats start from the default preset
(none: the default provider's default model, no system prompt); a chat's
current settings can be kept as a new preset. Presets are single-row edits a
person makes (the thread rule of :mod:`desktop.services`), except removing
one, which clears it from every chat that started from it (the writer thread).
"""

from __future__ import annotations

import logging

from desktop.core.models import GenerationParams, Preset
from desktop.store import Store
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.presets")

DEFAULT_PRESET_KEY = "default_preset_id"
NAME_LENGTH = 80


class PresetError(ValueError):
    """A preset the user asked for is not acceptable; the message says why."""


class PresetService:
    def __init__(self, store: Store, manager: StreamManager) -> None:
        self._store = store
        self._manager = manager

    def presets(self) -> list[Preset]:
        return self._store.list_presets()

    def default_preset(self) -> Preset | None:
        return default_preset(self._store)

    def set_default(self, preset_id: int | None) -> None:
        """New chats start from this preset (None: from no preset)."""
        if preset_id is not None and self._store.get_preset(preset_id) is None:
            raise PresetError("That preset no longer exists.")
        self._store.set_setting(DEFAULT_PRESET_KEY, preset_id)

    def add(
        self,
        name: str,
        system_prompt: str = "",
        provider_id: int | None = None,
        model: str = "",
        params: GenerationParams | None = None,
    ) -> Preset:
        name = self._valid_name(name, exclude_id=None)
        params = self._valid_params(params or GenerationParams())
        return self._store.add_preset(
            name, system_prompt.strip(), provider_id, model.strip(), params
        )

    def update(self, preset: Preset) -> None:
        if self._store.get_preset(preset.id) is None:  # removed meanwhile: nothing to save
            raise PresetError("That preset no longer exists.")
        name = self._valid_name(preset.name, exclude_id=preset.id)
        params = self._valid_params(preset.params)
        self._store.update_preset(
            Preset(
                preset.id,
                name,
                preset.system_prompt.strip(),
                preset.provider_id,
                preset.model.strip(),
                params,
            )
        )

    async def remove(self, preset_id: int) -> None:
        if (
            self.default_preset() is not None
            and self._store.get_setting(DEFAULT_PRESET_KEY) == preset_id
        ):
            self._store.set_setting(DEFAULT_PRESET_KEY, None)
        await self._manager.run_store(self._store.delete_preset, preset_id)

    def from_chat(self, session_id: int, name: str) -> Preset:
        """Keep a chat's current settings (provider, model, system prompt,
        parameters) as a new preset."""
        session = self._store.get_session(session_id)
        if session is None:
            raise PresetError("This chat no longer exists.")
        return self.add(
            name, session.system_prompt, session.provider_id, session.model, session.params
        )

    def _valid_name(self, name: str, *, exclude_id: int | None) -> str:
        name = " ".join(name.split())
        if not name:
            raise PresetError("A preset needs a name.")
        if len(name) > NAME_LENGTH:
            raise PresetError(f"A preset's name can be at most {NAME_LENGTH} characters long.")
        for other in self._store.list_presets():
            if other.name.casefold() == name.casefold() and other.id != exclude_id:
                raise PresetError(f"There is already a preset named “{other.name}”.")
        return name

    @staticmethod
    def _valid_params(params: GenerationParams) -> GenerationParams:
        try:
            return params.validate()
        except ValueError as exc:
            raise PresetError(str(exc)) from exc


def default_preset(store: Store) -> Preset | None:
    """The preset new chats start from, if one is set (and still exists)."""
    preset_id = store.get_setting(DEFAULT_PRESET_KEY)
    return store.get_preset(preset_id) if isinstance(preset_id, int) else None
