"""Persistence: chats, messages, providers and settings in one SQLite file; keys in the keyring.

No Qt here. The UI never imports this package; it is handed a :class:`Store`
(or services built on it) by the composition root.
"""

from desktop.store.database import StoreError, StoreErrorKind
from desktop.store.migrations import CURRENT_VERSION
from desktop.store.paths import DB_FILENAME, default_data_dir, resolve_data_dir
from desktop.store.secrets import KeyPersistence, KeyStore
from desktop.store.store import Store, StreamFlush

__all__ = [
    "CURRENT_VERSION",
    "DB_FILENAME",
    "KeyPersistence",
    "KeyStore",
    "Store",
    "StoreError",
    "StoreErrorKind",
    "StreamFlush",
    "default_data_dir",
    "resolve_data_dir",
]
