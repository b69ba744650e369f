"""Files attached to a user turn, on the wire in each dialect's shape (issue 17).

The providers are real and talk over loopback: to a recording server for the
exact request bodies, and to the demo server end to end (it names what it was
sent in its reply's first line; ``sidestream-demo-text-only`` refuses images).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from desktop.core.errors import ErrorKind
from desktop.core.events import Failed, Finished, StreamEvent, TextDelta
from desktop.core.models import (
    AttachmentKind,
    ChatRequest,
    ChatTurn,
    ProviderConfig,
    ProviderKind,
    TurnFile,
)
from desktop.core.states import Role
from desktop.providers.demo import demo_reply
from desktop.providers.demo.server import DemoServer
from desktop.providers.factory import create_provider
from tests.support import collect, fixture_bytes
from tests.support.aio import run
from tests.support.files import png
from tests.support.raw_server import RawServer, RecordedRequest, Reply, split_events

PNG = png(width=2, height=1)
PNG_B64 = base64.b64encode(PNG).decode("ascii")
NOTES_TEXT = "first line\nsecond line\nthird line"
NOTES_FRAME = '<file name="notes.txt">\nfirst line\nsecond line\nthird line\n</file>'
NOTES = TurnFile("notes.txt", "text/plain", AttachmentKind.TEXT, text=NOTES_TEXT)
PHOTO = TurnFile("photo.png", "image/png", AttachmentKind.IMAGE, data=PNG)
PROMPT = "What do these show?"

# The text file first, then the image: OpenAI's parts keep that order,
# Anthropic's put the image first.
REQUEST = ChatRequest(
    model="m",
    turns=(
        ChatTurn(Role.USER, PROMPT, files=(NOTES, PHOTO)),
        ChatTurn(Role.ASSISTANT, "A note and a picture."),
        ChatTurn(Role.USER, "And now?"),
    ),
    max_tokens=64,
)
KINDS = (ProviderKind.OPENAI_CHAT, ProviderKind.OPENAI_RESPONSES, ProviderKind.ANTHROPIC)
FOLDERS = {
    ProviderKind.OPENAI_CHAT: "openai_chat",
    ProviderKind.OPENAI_RESPONSES: "openai_responses",
    ProviderKind.ANTHROPIC: "anthropic",
}


def recorded(kind: ProviderKind, request: ChatRequest) -> tuple[list[StreamEvent], Any]:
    """Stream ``request`` to a server answering a recorded normal stream; the
    events and the JSON body the server received."""
    chunks = split_events(fixture_bytes(FOLDERS[kind], "normal.sse"))

    async def main(server: RawServer) -> list[StreamEvent]:
        base = server.base_url if kind is ProviderKind.ANTHROPIC else server.base_url + "/v1"
        provider = create_provider(
            ProviderConfig(kind=kind, base_url=base, api_key="sk-test-key", read_timeout=5.0)
        )
        try:
            return await collect(provider.stream(request))
        finally:
            await provider.aclose()

    with RawServer(Reply(chunks=chunks)) as server:
        events = run(main(server), timeout=30)
        sent: RecordedRequest = server.last_request
    return events, sent.json()


def decoded_data_url(url: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), url[:40]
    return base64.b64decode(url[len(prefix) :], validate=True)


def test_chat_completions_sends_text_then_each_file_in_order() -> None:
    events, body = recorded(ProviderKind.OPENAI_CHAT, REQUEST)
    assert isinstance(events[-1], Finished)
    first, second, third = body["messages"]
    assert first["role"] == "user"
    assert first["content"] == [
        {"type": "text", "text": PROMPT},
        {"type": "text", "text": NOTES_FRAME},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    ]
    assert decoded_data_url(first["content"][2]["image_url"]["url"]) == PNG
    # Turns without files keep the plain string content.
    assert second == {"role": "assistant", "content": "A note and a picture."}
    assert third == {"role": "user", "content": "And now?"}


def test_responses_sends_input_text_and_input_image_parts_in_order() -> None:
    events, body = recorded(ProviderKind.OPENAI_RESPONSES, REQUEST)
    assert isinstance(events[-1], Finished)
    first, second, third = body["input"]
    assert first["role"] == "user"
    assert first["content"] == [
        {"type": "input_text", "text": PROMPT},
        {"type": "input_text", "text": NOTES_FRAME},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"},
    ]
    assert decoded_data_url(first["content"][2]["image_url"]) == PNG
    assert second == {"role": "assistant", "content": "A note and a picture."}
    assert third == {"role": "user", "content": "And now?"}


def test_anthropic_sends_images_first_then_text_files_then_the_message() -> None:
    events, body = recorded(ProviderKind.ANTHROPIC, REQUEST)
    assert isinstance(events[-1], Finished)
    first, second, third = body["messages"]
    assert first["role"] == "user"
    assert first["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
        },
        {"type": "text", "text": NOTES_FRAME},
        {"type": "text", "text": PROMPT},
    ]
    assert base64.b64decode(first["content"][0]["source"]["data"], validate=True) == PNG
    assert second == {"role": "assistant", "content": "A note and a picture."}
    assert third == {"role": "user", "content": "And now?"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_turn_of_files_alone_sends_no_empty_text_and_a_pdf_as_text(kind: ProviderKind) -> None:
    pdf = TurnFile("report.pdf", "application/pdf", AttachmentKind.PDF, text="Page one.")
    request = ChatRequest(model="m", turns=(ChatTurn(Role.USER, "", files=(pdf,)),))
    _, body = recorded(kind, request)
    messages = body["input"] if kind is ProviderKind.OPENAI_RESPONSES else body["messages"]
    text_type = "input_text" if kind is ProviderKind.OPENAI_RESPONSES else "text"
    frame = '<file name="report.pdf">\nPage one.\n</file>'
    assert messages == [{"role": "user", "content": [{"type": text_type, "text": frame}]}]


def test_requests_without_files_are_as_before() -> None:
    plain = ChatRequest(model="m", turns=(ChatTurn(Role.USER, "Hi"),), max_tokens=64)
    for kind in KINDS:
        _, body = recorded(kind, plain)
        messages = body["input"] if kind is ProviderKind.OPENAI_RESPONSES else body["messages"]
        assert messages == [{"role": "user", "content": "Hi"}], kind


# --- the demo server, end to end -------------------------------------------------------


def demo_stream(demo: DemoServer, kind: ProviderKind, request: ChatRequest) -> list[StreamEvent]:
    base = demo.anthropic_base_url if kind is ProviderKind.ANTHROPIC else demo.openai_base_url

    async def main() -> list[StreamEvent]:
        provider = create_provider(
            ProviderConfig(kind=kind, base_url=base, api_key="test-key", read_timeout=10.0)
        )
        try:
            return await collect(provider.stream(request))
        finally:
            await provider.aclose()

    return run(main(), timeout=30)


def reply_text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def one_turn(model: str, *files: TurnFile) -> ChatRequest:
    return ChatRequest(model=model, turns=(ChatTurn(Role.USER, PROMPT, files=files),))


IMAGE_LABEL = f"an image (PNG, {len(PNG)} bytes)"
NOTES_LABEL = "notes.txt (text, 3 lines)"


@pytest.mark.parametrize("kind", KINDS)
def test_the_demo_names_the_attached_files_in_its_first_line(
    demo: DemoServer, kind: ProviderKind
) -> None:
    events = demo_stream(demo, kind, one_turn("sidestream-demo", NOTES, PHOTO))
    assert isinstance(events[-1], Finished), events[-1]
    labels = [NOTES_LABEL, IMAGE_LABEL]
    if kind is ProviderKind.ANTHROPIC:
        labels.reverse()  # sent images first
    note = f"You attached 2 files: {', '.join(labels)}."
    text = reply_text(events)
    assert text.split("\n", 1)[0] == note
    # Deterministic: the note, then the reply to the message's text alone.
    assert text == demo_reply(PROMPT, demo.defaults.tokens, note=note)


@pytest.mark.parametrize("kind", KINDS)
def test_demo_text_only_refuses_an_image_with_a_message_the_user_can_act_on(
    demo: DemoServer, kind: ProviderKind
) -> None:
    events = demo_stream(demo, kind, one_turn("sidestream-demo-text-only", NOTES, PHOTO))
    assert len(events) == 1 and isinstance(events[0], Failed), events
    error = events[0].error
    assert error.kind is ErrorKind.BAD_REQUEST and error.status == 400
    assert error.message == (
        "The provider rejected the request (HTTP 400): sidestream-demo-text-only does not accept "
        "images: remove the image, or pick a model that reads images."
    )


@pytest.mark.parametrize("kind", KINDS)
def test_demo_text_only_reads_text_files(demo: DemoServer, kind: ProviderKind) -> None:
    events = demo_stream(demo, kind, one_turn("sidestream-demo-text-only", NOTES))
    assert isinstance(events[-1], Finished), events[-1]
    assert reply_text(events).split("\n", 1)[0] == f"You attached 1 file: {NOTES_LABEL}."
