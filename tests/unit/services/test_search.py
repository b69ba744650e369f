"""SearchService on a real store: what the sidebar and the find bar ask."""

from __future__ import annotations

from desktop.core.states import Role
from desktop.services.search import SearchService
from desktop.store import Store


def test_search_and_search_chat_answer_from_the_store(store: Store) -> None:
    chat = store.create_session("Gardening")
    first = store.add_message(chat.id, Role.USER, "When to prune roses?")
    second = store.add_message(chat.id, Role.ASSISTANT, "Prune roses in late winter.")
    service = SearchService(store)
    found = service.search("prun")
    assert [(h.session_id, h.message_id) for h in found] == [
        (chat.id, first.id),
        (chat.id, second.id),
    ] or [(h.session_id, h.message_id) for h in found] == [
        (chat.id, second.id),
        (chat.id, first.id),
    ]
    assert service.search("garden")[0].message_id is None
    assert service.search_chat(chat.id, "roses") == [first.id, second.id]
    assert service.search('"') == [] and service.search_chat(chat.id, "NEAR(") == []
