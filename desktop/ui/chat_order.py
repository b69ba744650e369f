"""Order in a long history: pin, archive and folders, done and said.

The sidebar (a chat's menu, the scope selector above the list) and the
window's Chat and View menus say which chat or folder the user meant;
:class:`ChatOrganizer` asks a folder's name when one is needed (again, with
the reason, until it is one), makes the change through the ChatService,
updates the list's model, and says what happened (``status``) or why it could
not (``error``). It also keeps the scope the list shows as a setting, and
builds the View menu that chooses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from desktop.core.tasks import TaskKeeper
from desktop.services.chat import MAX_FOLDER_NAME, ChatActionError, ChatService
from desktop.services.settings import SettingsService
from desktop.ui.chat_scope import ALL_CHATS, SCOPE_SETTING, ChatScope, ScopeKind
from desktop.ui.plain import ask
from desktop.ui.sidebar import Sidebar

log = logging.getLogger("sidestream.ui")


class ChatOrganizer(QObject):
    """Pins, archives and files chats; renames and dissolves folders; keeps the scope shown."""

    chat_changed = Signal(int)
    """A chat was pinned, archived or moved (the window reads it again)."""
    folder_renamed = Signal(str, str)
    """(old, new): every chat of a folder moved ("" new: the folder was dissolved)."""
    status = Signal(str)
    """What an action did, to show the user."""
    error = Signal(str)
    """Why an action could not be done, to show the user."""

    def __init__(
        self, chat: ChatService, settings: SettingsService, sidebar: Sidebar, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self._chat = chat
        self._settings = settings
        self._sidebar = sidebar
        self._window = parent  # the dialogs' parent
        self._tasks = TaskKeeper(log)
        self._scope_actions = QActionGroup(self)
        self.action_rename_folder = QAction("&Rename folder…", self)
        self.action_dissolve_folder = QAction("&Dissolve folder…", self)
        self.action_rename_folder.triggered.connect(self._on_rename_folder_triggered)
        self.action_dissolve_folder.triggered.connect(self._on_dissolve_folder_triggered)

    # ------------------------------------------------------------------ scope
    def restore_scope(self) -> None:
        """Show the scope shown at the last run ("All chats" if its folder is gone)."""
        scope = ChatScope.from_setting(self._settings.get(SCOPE_SETTING))
        if scope.is_folder and scope.folder not in self._sidebar.model.folders():
            scope = ALL_CHATS  # dissolved, or emptied, since
        self._sidebar.set_scope(scope)

    def save_scope(self, scope: ChatScope) -> None:
        try:
            self._settings.set(SCOPE_SETTING, scope.to_setting())
        except Exception as exc:  # a preference: the list shows it all the same
            log.warning("could not save the chat list's scope: %s", exc)

    def fill_view_menu(self, menu: QMenu) -> None:
        """All chats, each folder, Archived chats (the one shown checked), then
        the shown folder's Rename… and Dissolve…; built anew as it opens."""
        menu.clear()
        for action in self._scope_actions.actions():
            self._scope_actions.removeAction(action)
            action.deleteLater()
        shown = self._sidebar.scope
        counts = self._sidebar.model.counts()
        sizes = dict(counts.folders)
        for scope in self._sidebar.selector.scopes():
            if scope.kind is ScopeKind.ALL:
                text = f"&All chats ({counts.listed})"
            elif scope.kind is ScopeKind.ARCHIVED:
                menu.addSeparator()
                text = f"A&rchived chats ({counts.archived})"
            else:
                text = f"{scope.folder.replace('&', '&&')} ({sizes.get(scope.folder, 0)})"
            action = QAction(text, self)
            self._scope_actions.addAction(action)
            action.setCheckable(True)
            action.setChecked(scope == shown)
            action.triggered.connect(lambda _checked=False, s=scope: self._sidebar.set_scope(s))
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.action_rename_folder)
        menu.addAction(self.action_dissolve_folder)
        self.action_rename_folder.setEnabled(shown.is_folder)
        self.action_dissolve_folder.setEnabled(shown.is_folder)

    # ------------------------------------------------------------------ chats
    def set_pinned(self, session_id: int, pinned: bool) -> None:
        """Pin a chat to the top of the list, or unpin it (back to its place by activity)."""
        what = "pin" if pinned else "unpin"
        if self._change(f"Could not {what} the chat", self._chat.set_pinned, session_id, pinned):
            self.chat_changed.emit(session_id)

    def set_archived(self, session_id: int, archived: bool) -> None:
        """Archive a chat (it leaves the list; its tab, a reply streaming in it
        and its notifications go on; search still finds it), or bring it back."""
        session = self._chat.chat(session_id)
        if session is None:
            self.error.emit("This chat no longer exists.")
            return
        what = "archive" if archived else "unarchive"
        if not self._change(
            f"Could not {what} the chat", self._chat.set_archived, session_id, archived
        ):
            return
        self.chat_changed.emit(session_id)
        if archived:
            self.status.emit(f"“{session.title}” archived: it is under View → Archived chats.")
        else:
            self.status.emit(f"“{session.title}” is back in the list.")

    def set_folder(self, session_id: int, folder: str) -> None:
        """Move a chat into ``folder`` ("" out of any)."""
        before = self._chat.chat(session_id)
        if before is None:
            self.error.emit("This chat no longer exists.")
            return
        if not self._change("Could not move the chat", self._chat.set_folder, session_id, folder):
            return
        self.chat_changed.emit(session_id)
        if folder:
            self.status.emit(f"“{before.title}” moved to “{folder}”.")
        elif before.folder:
            self.status.emit(f"“{before.title}” taken out of “{before.folder}”.")

    def move_to_new_folder(self, session_id: int) -> None:
        """Ask a folder's name and move the chat into it (into the folder of
        that name, any case, if there is one)."""
        name = self.ask_folder_name("New folder", "Name of the new folder:")
        if name is None:
            return
        same = [f for f in self._sidebar.model.folders() if f.casefold() == name.casefold()]
        self.set_folder(session_id, same[0] if same else name)

    # ---------------------------------------------------------------- folders
    def rename_folder(self, old: str) -> None:
        """Rename a folder; a name another folder has merges the two (asked first)."""
        new = self.ask_folder_name(f"Rename folder “{old}”", "New name:", old)
        if new is None or new == old:
            return
        others = [
            f for f in self._sidebar.model.folders() if f != old and f.casefold() == new.casefold()
        ]
        if others:
            text = f"There is a folder “{others[0]}” already. Move the chats of “{old}” into it?"
            if ask(self._window, "Merge folders", text) != QMessageBox.StandardButton.Yes:
                return
            new = others[0]
        self._tasks.spawn(self._rename_folder(old, new))

    def dissolve_folder(self, name: str) -> None:
        """Take every chat out of a folder (asked first); no chat is deleted."""
        count = self._sidebar.model.folder_size(name)
        chats = "Its chat stays" if count == 1 else f"Its {count} chats stay"
        text = (
            f"Dissolve the folder “{name}”? {chats} in All chats "
            "(archived ones in the archive); no chat is deleted."
        )
        if ask(self._window, "Dissolve folder", text) != QMessageBox.StandardButton.Yes:
            return
        self._tasks.spawn(self._rename_folder(name, ""))

    def ask_folder_name(self, title: str, label: str, text: str = "") -> str | None:
        """A folder's name from the user; asked again, with what was typed and
        why, until it is one (None: cancelled)."""
        problem = ""
        while True:
            prompt = f"{problem}\n\n{label}" if problem else label
            typed, ok = QInputDialog.getText(self._window, title, prompt, text=text)
            if not ok:
                return None
            name = " ".join(typed.split())
            if not name:
                problem, text = "A folder needs a name.", ""
            elif len(name) > MAX_FOLDER_NAME:
                problem = (
                    f"A folder name can be at most {MAX_FOLDER_NAME} characters; "
                    f"this one has {len(name)}."
                )
                text = name
            else:
                return name

    async def _rename_folder(self, old: str, new: str) -> None:
        try:
            await self._chat.rename_folder(old, new)
        except ChatActionError as exc:
            self.error.emit(str(exc))
            return
        except Exception as exc:
            log.error("renaming folder %r failed", old, exc_info=exc)
            what = "rename" if new else "dissolve"
            self.error.emit(f"Could not {what} the folder “{old}”: {exc}")
            return
        self._sidebar.model.rename_folder(old, new)
        if self._sidebar.scope == ChatScope.in_folder(old):
            self._sidebar.set_scope(ChatScope.in_folder(new) if new else ALL_CHATS)
        self.folder_renamed.emit(old, new)
        if new:
            self.status.emit(f"Folder “{old}” renamed to “{new}”.")
        else:
            self.status.emit(f"Folder “{old}” dissolved; its chats are in All chats.")

    # -------------------------------------------------------------- internals
    def _on_rename_folder_triggered(self) -> None:
        if (scope := self._sidebar.scope).is_folder:
            self.rename_folder(scope.folder)

    def _on_dissolve_folder_triggered(self) -> None:
        if (scope := self._sidebar.scope).is_folder:
            self.dissolve_folder(scope.folder)

    def _change(self, what: str, change: Callable[..., None], *args: object) -> bool:
        """Make a one-row change; a failure is said (``what`` says what failed)."""
        try:
            change(*args)
        except ChatActionError as exc:
            self.error.emit(str(exc))
            return False
        except Exception as exc:
            log.error("%s", what, exc_info=exc)
            self.error.emit(f"{what}: {exc}")
            return False
        return True
