"""The demo reads attached files in every dialect's shape, names them, and
``sidestream-demo-text-only`` refuses images with each dialect's error body (issue 17)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from desktop.providers.demo import DEMO_MODELS, demo_reply, demo_reply_tokens
from desktop.providers.demo.attachments import attachment_note, read_content
from desktop.providers.demo.conversation import from_anthropic, from_chat, from_responses
from desktop.providers.demo.replies import continuation_tokens, tokenize
from desktop.providers.demo.server import DemoServer
from tests.unit.providers.demo.helpers import (
    CHAT,
    MESSAGES,
    RESPONSES,
    Event,
    chat_body,
    chat_text,
    messages_body,
    messages_text,
    responses_body,
    responses_text,
    stream,
)

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(2040)  # 2048 bytes: "2 KB"
DATA_URL = "data:image/png;base64," + base64.b64encode(IMAGE).decode("ascii")
FRAME = '<file name="notes.txt">\none\ntwo\n</file>'
NOTE = "You attached 2 files: notes.txt (text, 2 lines), an image (PNG, 2 KB)."
REFUSAL = (
    "sidestream-demo-text-only does not accept images: remove the image,"
    " or pick a model that reads images."
)


def chat_parts() -> list[dict[str, object]]:
    return [
        {"type": "text", "text": "Look"},
        {"type": "text", "text": FRAME},
        {"type": "image_url", "image_url": {"url": DATA_URL}},
    ]


def responses_parts() -> list[dict[str, object]]:
    return [
        {"type": "input_text", "text": "Look"},
        {"type": "input_text", "text": FRAME},
        {"type": "input_image", "image_url": DATA_URL},
    ]


def anthropic_parts() -> list[dict[str, object]]:
    data = base64.b64encode(IMAGE).decode("ascii")
    return [
        {"type": "text", "text": FRAME},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "text", "text": "Look"},
    ]


def test_each_dialect_reads_the_prompt_and_names_the_files() -> None:
    user = {"role": "user"}
    chat = from_chat({"messages": [{**user, "content": chat_parts()}]})
    responses = from_responses({"input": [{**user, "content": responses_parts()}]})
    anthropic = from_anthropic({"messages": [{**user, "content": anthropic_parts()}]})
    for convo in (chat, responses, anthropic):
        assert convo.prompt == "Look"
        assert convo.files == ("notes.txt (text, 2 lines)", "an image (PNG, 2 KB)")
        assert convo.note == NOTE and convo.images == 1
        # The frame's text counts as input, the image's bytes do not.
        assert convo.input_chars == len("Look") + len(FRAME)


def test_only_the_seed_turns_files_are_named_but_every_image_is_counted() -> None:
    convo = from_chat(
        {
            "messages": [
                {"role": "user", "content": chat_parts()},
                {"role": "assistant", "content": "Seen."},
                {"role": "user", "content": "And now?"},
            ]
        }
    )
    assert (convo.prompt, convo.files, convo.note, convo.images) == ("And now?", (), "", 1)


@pytest.mark.parametrize(
    ("part", "label"),
    [
        (
            {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
            "an image (from a URL)",
        ),
        ({"type": "input_image", "file_id": "file-1"}, "an image"),
        ({"type": "image", "source": {"type": "url", "url": "https://x"}}, "an image (from a URL)"),
        (
            {"type": "image_url", "image_url": "data:image/webp;base64,AAAA"},
            "an image (WebP, 3 bytes)",
        ),
        (
            {"type": "input_image", "image_url": "data:image/jpeg;base64," + "A" * 4_000_000},
            "an image (JPEG, 2.9 MB)",
        ),
    ],
)
def test_images_from_urls_files_and_other_formats_are_described(
    part: dict[str, object], label: str
) -> None:
    assert read_content([part]).files == (label,)


def test_a_note_counts_files_in_words() -> None:
    assert attachment_note(()) == ""
    assert (
        attachment_note(("a.txt (text, 1 line)",)) == "You attached 1 file: a.txt (text, 1 line)."
    )


@pytest.mark.parametrize("n", [1, 5, 16, 17, 60, 300])
def test_a_reply_with_a_note_is_still_n_tokens_and_continuable(n: int) -> None:
    tokens = demo_reply_tokens("Look", n, note=NOTE)
    assert len(tokens) == n and "".join(tokens) == demo_reply("Look", n, note=NOTE)
    full = "".join(tokens)
    assert full.startswith(NOTE[: len(full)])
    if n >= 60:
        assert full.startswith(NOTE + "\n\n")
        rest = n - len(tokenize(NOTE + "\n\n"))
        assert full[len(NOTE) + 2 :] == demo_reply("Look", rest)
    partial = "".join(tokens[: n // 2])
    assert partial + "".join(continuation_tokens("Look", partial, n, note=NOTE)) == full


def test_demo_text_only_is_listed() -> None:
    assert "sidestream-demo-text-only" in DEMO_MODELS


@pytest.mark.parametrize(
    ("path", "body", "text_of"),
    [
        (CHAT, chat_body(model="sidestream-demo-text-only"), chat_text),
        (RESPONSES, responses_body(model="sidestream-demo-text-only"), responses_text),
        (MESSAGES, messages_body(model="sidestream-demo-text-only"), messages_text),
    ],
)
def test_demo_text_only_answers_text_as_any_demo_model(
    server: DemoServer, path: str, body: dict[str, object], text_of: Callable[[list[Event]], str]
) -> None:
    got = stream(server.url + path, body)
    assert got.status == 200
    assert text_of(got.events) == demo_reply("hello", 20)


@pytest.mark.parametrize("path", [CHAT, RESPONSES])
def test_demo_text_only_refuses_an_image_as_openai_does(server: DemoServer, path: str) -> None:
    if path == CHAT:
        body = chat_body(model="sidestream-demo-text-only")
        body["messages"] = [{"role": "user", "content": chat_parts()}]
    else:
        body = responses_body(model="sidestream-demo-text-only")
        body["input"] = [{"role": "user", "content": responses_parts()}]
    got = stream(server.url + path, body)
    assert got.status == 400
    assert got.headers["content-type"] == "application/json"
    assert httpx.Response(400, content=got.raw).json() == {
        "error": {
            "message": REFUSAL,
            "type": "invalid_request_error",
            "param": None,
            "code": "image_not_supported",
        }
    }


def test_demo_text_only_refuses_an_image_as_anthropic_does(server: DemoServer) -> None:
    body = messages_body(model="sidestream-demo-text-only")
    body["messages"] = [{"role": "user", "content": anthropic_parts()}]
    got = stream(server.url + MESSAGES, body)
    assert got.status == 400
    error = httpx.Response(400, content=got.raw).json()
    assert error["type"] == "error"
    assert error["error"] == {"type": "invalid_request_error", "message": REFUSAL}


def test_the_text_only_model_is_known_by_id(server: DemoServer) -> None:
    with httpx.Client() as client:
        one = client.get(server.openai_base_url + "/models/sidestream-demo-text-only")
    assert one.status_code == 200 and one.json()["id"] == "sidestream-demo-text-only"
