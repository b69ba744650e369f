"""ChatView: rendering, streaming updates, actions and link/image safety.

Real widgets on the offscreen platform; clicks are real mouse events on the
viewport, the clipboard is the application's.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPalette, QTextCursor, QTextFormat
from pytestqt.qtbot import QtBot

from desktop.core.links import LinkCheck, check_link
from desktop.core.models import Message
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.streaming.events import MessageUpdate, StreamSnapshot
from desktop.ui.chat_view import ChatView, quote_bar
from desktop.ui.link_dialog import LinkDialog
from desktop.ui.render.document import (
    BLOCK_KIND,
    BLOCK_MESSAGE,
    TAIL_MARKDOWN_LIMIT,
    BlockKind,
)
from desktop.ui.render.status import status_line
from tests.support.view_updates import append_text, set_message_state, show_live

S = MessageStatus

REPLY = (
    "Here is the plan.\n\n"
    "## Steps\n\n"
    "1. Read the file\n"
    "2. Parse it\n"
    "   - skip comments\n\n"
    "```python\n"
    "def parse(path):\n"
    "    # one line at a time\n"
    "\n"
    "    return [line for line in open(path)]\n"
    "```\n\n"
    "| key | value |\n"
    "|-----|-------|\n"
    "| a   | 1     |\n\n"
    "> Keep it simple.\n\n"
    "Then **run** it with `make`:\n\n"
    "~~~sh\n"
    "make run\n"
    "~~~\n\n"
    "Done."
)


def user(mid: int, text: str) -> Message:
    return Message(mid, 1, Role.USER, text, S.COMPLETE)


def assistant(mid: int, text: str, status: MessageStatus = S.COMPLETE, **kw: str) -> Message:
    return Message(mid, 1, Role.ASSISTANT, text, status, **kw)  # type: ignore[arg-type]


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def plain(view: ChatView) -> str:
    return view.document().toPlainText()


def lines(view: ChatView) -> list[str]:
    """The document's non-empty lines (the Markdown importer adds an empty
    paragraph before a table that follows a code block in one text, but not
    when the table starts a text of its own)."""
    return [line for line in plain(view).split("\n") if line]


def anchors(view: ChatView) -> dict[str, list[int]]:
    """Every anchor href in the document -> positions inside its text."""
    found: dict[str, list[int]] = {}
    block = view.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            fmt = fragment.charFormat()
            if fmt.isAnchor():
                found.setdefault(fmt.anchorHref(), []).append(
                    fragment.position() + fragment.length() // 2
                )
            iterator.__iadd__(1)
        block = block.next()
    return found


def click_anchor(qtbot: QtBot, view: ChatView, href: str) -> None:
    """Click the first anchor with this href, with the real mouse."""
    position = anchors(view)[href][0]
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    view.browser.setTextCursor(cursor)
    view.browser.ensureCursorVisible()
    point = view.browser.cursorRect(cursor).center() + QPoint(1, 0)
    assert view.browser.anchorAt(point) == href
    qtbot.mouseClick(view.browser.viewport(), Qt.MouseButton.LeftButton, pos=point)


def check_regions(view: ChatView) -> None:
    """The renderer's bookkeeping matches the document."""
    doc = view.document()
    regions = view.renderer.regions()
    for index, region in enumerate(regions):
        header = doc.findBlock(region.start)
        assert header.position() == region.start
        assert header.blockFormat().property(BLOCK_KIND) == BlockKind.HEADER
        assert header.blockFormat().property(BLOCK_MESSAGE) == region.message_id
        last = doc.findBlock(region.end)
        assert last.position() + last.length() - 1 == region.end
        if index + 1 < len(regions):
            assert regions[index + 1].start == region.end + 1
        else:
            assert region.end == doc.characterCount() - 1


def stream(view: ChatView, message_id: int, text: str, chunk: int) -> None:
    for start in range(0, len(text), chunk):
        append_text(view, message_id, text[start : start + chunk])


# ---------------------------------------------------------------- rendering


def test_status_lines_and_actions_for_every_status(view: ChatView) -> None:
    view.load_transcript(
        [
            user(1, "first question"),
            assistant(2, "done fine", model="demo-model"),
            user(3, "q"),
            assistant(4, "partial", S.STOPPED),
            user(5, "q"),
            assistant(6, "", S.FAILED, error="HTTP 401: invalid API key"),
            user(7, "q"),
            assistant(8, "cut", S.INTERRUPTED, reason=InterruptReason.EVICTED.value),
            user(9, "q"),
            assistant(10, "odd", S.INTERRUPTED, reason="gremlins"),
            user(11, "q"),
            assistant(12, "", S.PENDING),
            user(13, "q"),
            assistant(14, "so far", S.STREAMING),
        ]
    )
    text = plain(view)
    assert "Assistant  ·  demo-model" in text
    assert "Stopped." in text
    assert "Failed: HTTP 401: invalid API key" in text
    assert f"Interrupted. {InterruptReason.EVICTED.human}" in text
    assert "Interrupted. gremlins" in text
    assert "waiting for the model…" in text
    assert text.endswith("so far\nstreaming…")
    # Actions only on the last assistant message, and only once it is terminal.
    hrefs = anchors(view)
    assert not [h for h in hrefs if h.startswith(("sidestream:continue", "sidestream:retry"))]
    assert [h for h in hrefs if h.startswith("sidestream:copy/")] == [
        f"sidestream:copy/{n}" for n in range(1, 15)
    ]
    set_message_state(view, 14, S.STOPPED, None, None)
    assert {"sidestream:continue/14", "sidestream:retry/14"} <= set(anchors(view))
    set_message_state(view, 14, S.FAILED, "boom", None)
    hrefs = anchors(view)
    assert "sidestream:retry/14" in hrefs
    assert "sidestream:continue/14" not in hrefs
    assert plain(view).endswith("so far\nFailed: boom    Retry")
    set_message_state(view, 14, S.COMPLETE, None, None)
    assert plain(view).endswith("so far\nRetry")
    check_regions(view)


def test_status_line_texts() -> None:
    line = status_line(
        7, Role.ASSISTANT, S.INTERRUPTED, None, "connection lost", last_assistant=True
    )
    assert line.text == f"Interrupted. {InterruptReason.CONNECTION_LOST.human}"
    assert [label for label, _ in line.actions] == ["Continue", "Retry"]
    assert status_line(7, Role.ASSISTANT, S.COMPLETE, None, None, last_assistant=False).is_empty
    assert status_line(7, Role.USER, S.COMPLETE, None, None, last_assistant=True).is_empty


def test_markdown_renders_and_html_stays_text(view: ChatView) -> None:
    view.load_transcript(
        [
            user(1, "Show <b>bold</b> and <script>alert('x')</script> please"),
            assistant(2, REPLY + "\n\n<img src=x onerror=alert(1)> <i>hi</i>"),
        ]
    )
    text = plain(view)
    assert "<b>bold</b>" in text
    assert "<script>alert('x')</script>" in text
    assert "<img src=x onerror=alert(1)> <i>hi</i>" in text
    assert "**" not in text  # Markdown was rendered...
    assert "Steps" in text and "## Steps" not in text
    assert "def parse(path):" in text
    # ...into real structure: a heading, a list, a table, highlighted code.
    doc = view.document()
    kinds = set()
    block = doc.begin()
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.headingLevel() == 2:
            kinds.add("heading")
        if block.textList() is not None:
            kinds.add("list")
        if QTextCursor(block).currentTable() is not None:
            kinds.add("table")
        if block.text().startswith("def parse") and block.layout().formats():
            kinds.add("highlighted")
        block = block.next()
    assert kinds == {"heading", "list", "table", "highlighted"}


def test_a_code_block_right_below_a_table_is_code_not_a_table_row(view: ChatView) -> None:
    """Qt's importer would read the fence as one more row (GitHub ends the table)."""
    table_then_code = "| key | value |\n|-----|-------|\n| a   | 1     |\n```python\nx = 1\n```\n"
    view.load_transcript([user(1, table_then_code), assistant(2, table_then_code)])
    show_live(view, StreamSnapshot(1, 3, S.STREAMING, ""))
    for char in table_then_code:  # and the same while it streams in
        append_text(view, 3, char)
    set_message_state(view, 3, S.COMPLETE)
    doc = view.document()
    code_lines = []
    block = doc.begin()
    while block.isValid():
        if block.text() == "x = 1":
            assert QTextCursor(block).currentTable() is None
            assert block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeLanguage)
            code_lines.append(block)
        block = block.next()
    assert len(code_lines) == 3
    assert view.renderer.code_text(2, 0) == "x = 1"


def test_a_quote_right_after_a_table_gets_one_bar_beside_the_quote_only(view: ChatView) -> None:
    table_then_quote = "| a | b |\n|---|---|\n| 1 | 2 |\n\n> quoted text\n\nafter"
    view.load_transcript([user(1, "q")])
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, ""))
    for start in range(0, len(table_then_quote), 7):  # streamed, as the screenshot was
        append_text(view, 2, table_then_quote[start : start + 7])
    bars = []
    block = view.document().begin()
    while block.isValid():
        bar = quote_bar(block)
        if bar is not None:
            bars.append((block.text(), bar))
        block = block.next()
    assert [text for text, _bar in bars] == ["quoted text"]
    quoted = view.document().find("quoted text").block()
    top = view.document().documentLayout().blockBoundingRect(quoted).top()
    assert bars[0][1].top() >= top - 2  # not beside the table's last row above


def test_code_blocks_get_copy_links_numbered_per_message(view: ChatView) -> None:
    view.load_transcript([user(1, "q"), assistant(2, REPLY)])
    hrefs = anchors(view)
    assert "sidestream:copy-code/2/0" in hrefs
    assert "sidestream:copy-code/2/1" in hrefs
    assert "python    Copy" in plain(view)
    assert "sh    Copy" in plain(view)


# ---------------------------------------------------------------- streaming


def test_streaming_small_deltas_renders_the_same_as_loading(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript([user(1, "plan please")])
    view.add_message(assistant(2, "", S.STREAMING))
    stream(view, 2, REPLY, chunk=3)
    assert view.message_text(2) == REPLY
    assert "streaming…" in plain(view)
    set_message_state(view, 2, S.COMPLETE, None, None)
    streamed = lines(view)
    check_regions(view)

    fresh = ChatView()
    qtbot.addWidget(fresh)
    fresh.load_transcript([user(1, "plan please"), assistant(2, REPLY)])
    assert streamed == lines(fresh)
    assert anchors(view).keys() == anchors(fresh).keys()


def test_streaming_cost_does_not_depend_on_the_reply_length(view: ChatView) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(assistant(2, "", S.STREAMING))
    paragraph = "A sentence of prose that keeps going for a while. " * 4 + "\n\n"
    stats = view.render_stats
    imported = []
    for _ in range(60):
        before = stats.markdown_chars
        stream(view, 2, paragraph, chunk=40)
        imported.append(stats.markdown_chars - before)
    # Each paragraph costs the same to render early and late in the reply.
    assert imported[-1] == imported[5]
    assert stats.body_rebuilds == 1  # only the initial (empty) body


def test_show_live_catch_up_appends_only_the_missing_suffix(view: ChatView) -> None:
    first = "".join(f"Paragraph {n} with some words in it.\n\n" for n in range(50))
    missing = "".join(f"Later paragraph {n}.\n\n" for n in range(10)) + "And an open tail"
    view.load_transcript([user(1, "q")])
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, first))
    stats = view.render_stats
    rebuilds = stats.body_rebuilds
    imported = stats.markdown_chars
    doc = view.document()
    frozen = doc.findBlock(view.renderer.regions()[-1].body_start + 1)
    frozen_text = frozen.text()

    show_live(view, StreamSnapshot(1, 2, S.STREAMING, first + missing))

    assert view.message_text(2) == first + missing
    assert stats.body_rebuilds == rebuilds  # not re-rendered from scratch
    # Only the suffix was imported, plus the old open tail (the last paragraph,
    # which only the next line could finish).
    old_tail = "Paragraph 49 with some words in it.\n\n"
    assert stats.markdown_chars - imported == len(old_tail) + len(missing)
    assert frozen.isValid() and frozen.text() == frozen_text == "Paragraph 0 with some words in it."
    assert plain(view).count("Paragraph 0 with") == 1
    assert "And an open tail" in plain(view)
    check_regions(view)


def test_show_live_with_different_text_re_renders(view: ChatView) -> None:
    view.load_transcript([user(1, "q"), assistant(2, "Old answer that was wrong.\n\nMore")])
    rebuilds = view.render_stats.body_rebuilds
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, "A new answer"))
    assert view.message_text(2) == "A new answer"
    assert "Old answer" not in plain(view)
    assert "A new answer" in plain(view)
    assert view.render_stats.body_rebuilds == rebuilds + 1
    check_regions(view)


def test_no_stale_overwrite_and_no_duplication(view: ChatView) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(assistant(2, "", S.STREAMING))
    append_text(view, 2, "Hello")
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, "Hello, world"))
    append_text(view, 2, "! More.")
    assert view.message_text(2) == "Hello, world! More."
    # A snapshot older than what the view holds changes nothing.
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, "Hello"))
    assert view.message_text(2) == "Hello, world! More."
    assert plain(view).count("Hello, world! More.") == 1
    # The same snapshot twice is idempotent.
    updates = view.update_count
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, "Hello, world! More."))
    assert view.update_count == updates
    check_regions(view)


def test_show_live_adds_an_unknown_reply_and_applies_its_state(view: ChatView) -> None:
    view.load_transcript([user(1, "q")])
    show_live(view, StreamSnapshot(1, 9, S.INTERRUPTED, "partial", reason="stalled"))
    assert view.message_ids() == [1, 9]
    assert plain(view).endswith(
        f"partial\nInterrupted. {InterruptReason.STALLED.human}    Continue  ·  Retry"
    )


def test_a_long_open_code_block_streams_as_plain_appends(view: ChatView) -> None:
    code = "".join(f"    value_{n} = compute({n})\n" for n in range(400))
    text = "Code:\n\n```python\ndef big():\n" + code + "```\n\nAfter the code."
    view.load_transcript([user(1, "q")])
    view.add_message(assistant(2, "", S.STREAMING))
    stats = view.render_stats
    imported: list[int] = []
    for start in range(0, len(text), 60):
        before = stats.markdown_chars
        append_text(view, 2, text[start : start + 60])
        imported.append(stats.markdown_chars - before)
    assert stats.plain_appends > 100
    # Per update, what is imported stays under the limit; the whole block is
    # imported again only when its fence closes and when it is finished.
    over = [size for size in imported if size > TAIL_MARKDOWN_LIMIT + 60]
    assert 1 <= len(over) <= 2
    assert max(over) < len(text)
    set_message_state(view, 2, S.COMPLETE, None, None)
    fresh = ChatView()
    fresh.load_transcript([user(1, "q"), assistant(2, text)])
    assert plain(view) == plain(fresh)
    fresh.deleteLater()


def test_remove_message_for_retry(view: ChatView) -> None:
    view.load_transcript(
        [user(1, "a"), assistant(2, "first reply"), user(3, "b"), assistant(4, "bad", S.FAILED)]
    )
    view.remove_message(4)
    assert view.message_ids() == [1, 2, 3]
    assert "bad" not in plain(view)
    # The earlier reply is now the last one and offers Retry.
    assert "sidestream:retry/2" in anchors(view)
    view.add_message(assistant(5, "", S.STREAMING))
    assert "sidestream:retry/2" not in anchors(view)
    append_text(view, 5, "better")
    view.remove_message(1)
    assert view.message_ids() == [2, 3, 5]
    check_regions(view)
    append_text(view, 5, " still streaming")
    assert plain(view).endswith("better still streaming\nstreaming…")
    for mid in (2, 3, 5):
        view.remove_message(mid)
    assert view.message_ids() == []
    assert plain(view) == ""
    view.add_message(user(6, "again"))
    check_regions(view)


# ---------------------------------------------------------------- safety


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()
    thread.join()


def test_remote_images_are_never_fetched(
    view: ChatView, qtbot: QtBot, http_server: tuple[str, list[str]]
) -> None:
    base, hits = http_server
    url = f"{base}/img.png"
    view.load_transcript(
        [user(1, "q"), assistant(2, f"Look: ![x]({url})\n\nand ![local](file:///etc/hostname)")]
    )
    view.add_message(assistant(3, "", S.STREAMING))
    append_text(view, 3, f"Streamed ![y]({base}/streamed.png) too")
    view.browser.viewport().repaint()
    qtbot.waitUntil(lambda: f"{base}/streamed.png" in view.blocked_resources)
    assert url in view.blocked_resources
    assert "file:///etc/hostname" in view.blocked_resources
    # The server works, and saw nothing but this control request.
    import urllib.request

    with urllib.request.urlopen(f"{base}/control") as response:
        assert response.status == 200
    qtbot.waitUntil(lambda: "/control" in hits)
    assert hits == ["/control"]


class _UrlSink(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def url_sink() -> Iterator[_UrlSink]:
    """Receives what QDesktopServices.openUrl would open, instead of a browser."""
    sink = _UrlSink()
    for scheme in ("http", "https", "mailto", "file", "javascript", "data"):
        QDesktopServices.setUrlHandler(scheme, sink, "open")
    yield sink
    for scheme in ("http", "https", "mailto", "file", "javascript", "data"):
        QDesktopServices.unsetUrlHandler(scheme)


def test_links_open_only_after_confirmation_and_only_for_web_schemes(
    view: ChatView, qtbot: QtBot, url_sink: _UrlSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    answer = [False]

    def confirm(check: LinkCheck) -> bool:
        asked.append(check.href)
        return answer[0]

    monkeypatch.setattr(view, "confirm_open_url", confirm)
    full = "https://example.com/some/long/path?query=1&b=two#frag"
    view.load_transcript(
        [
            assistant(
                1,
                "[js](javascript:alert(1)) [file](file:///etc/passwd) "
                "[data](data:text/html,hi) [rel](notes.html) "
                f"[web]({full}) [mail](mailto:someone@example.com)",
            )
        ]
    )
    for href in ("javascript:alert(1)", "file:///etc/passwd", "data:text/html,hi", "notes.html"):
        click_anchor(qtbot, view, href)
    assert asked == []
    assert url_sink.opened == []

    click_anchor(qtbot, view, full)
    assert asked == [full]
    assert url_sink.opened == []  # declined
    answer[0] = True
    click_anchor(qtbot, view, full)
    click_anchor(qtbot, view, "mailto:someone@example.com")
    assert url_sink.opened == [full, "mailto:someone@example.com"]


def test_a_link_hiding_characters_in_its_host_is_refused_even_if_confirmed(
    view: ChatView, qtbot: QtBot, url_sink: _UrlSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QUrl drops a zero-width space from a host (and chokes on a bidi
    override, leaving an empty URL): the check sees the address as written."""
    asked: list[LinkCheck] = []

    def confirm(check: LinkCheck) -> bool:
        asked.append(check)
        return True  # even a user who clicks Open by reflex opens nothing

    monkeypatch.setattr(view, "confirm_open_url", confirm)
    zero_width = "https://pay\u200bpal.example/login"
    override = "https://ex\u202eelpmaxe.com/"
    view.load_transcript([assistant(1, f"[a]({zero_width}) [b]({override})")])
    click_anchor(qtbot, view, zero_width)
    click_anchor(qtbot, view, override)
    assert [c.href for c in asked] == [zero_width, override]
    assert all(c.refusal and "invisible character" in c.refusal for c in asked)
    assert "ZERO WIDTH SPACE" in (asked[0].refusal or "")
    assert url_sink.opened == []


def test_the_link_dialog_names_the_site_and_shows_what_hides_in_the_address(
    qtbot: QtBot,
) -> None:
    long_host = "https://" + "secure-login." * 30 + "bank.example.com.evil.example/x"
    dialog = LinkDialog(check_link(long_host))
    qtbot.addWidget(dialog)
    assert dialog.headline.text() == "Open a link to evil.example?"
    assert dialog.headline.textFormat() == Qt.TextFormat.PlainText
    shown = dialog.address.toPlainText()
    assert "…" in shown and shown.endswith("bank.example.com.evil.example/x")
    assert dialog.open_button is not None

    dialog = LinkDialog(check_link("https://example.com/invoice_\u202efdp.exe"))
    qtbot.addWidget(dialog)
    assert dialog.address.toPlainText() == "https://example.com/invoice_⟨U+202E⟩fdp.exe"

    dialog = LinkDialog(check_link("https://аррӏе.com/"))  # Cyrillic look-alikes
    qtbot.addWidget(dialog)
    assert "xn--80ak6aa92e.com" in dialog.detail.text()

    dialog = LinkDialog(check_link("https://a\u200bb.example/"))
    qtbot.addWidget(dialog)
    assert dialog.open_button is None
    assert dialog.headline.text() == "This link was not opened."
    assert "ZERO WIDTH SPACE" in dialog.detail.text()


def test_action_links_in_message_text_are_disarmed(view: ChatView) -> None:
    view.load_transcript(
        [
            user(1, "q"),
            assistant(
                2,
                "Click [here](sidestream:retry/2) or [there](SideStream:continue/2) "
                "or [this](sidestream&#58;copy/2)",
                S.STOPPED,
            ),
        ]
    )
    view.add_message(assistant(3, "", S.STREAMING))
    append_text(view, 3, "Also [retry me](sidestream:retry/3)\n\nok")
    hrefs = anchors(view)
    assert "sidestream:retry/2" not in hrefs  # not the last reply any more
    assert not [h for h in hrefs if h.lower().startswith("sidestream:") and "retry" in h]
    assert "here" in plain(view) and "retry me" in plain(view)


def test_markdown_inserted_after_a_block_keeps_both_blocks_formats_and_own_links(
    view: ChatView,
) -> None:
    # Each import lands behind the block before it (a header, a heading, a
    # code block): that block keeps its format and links, the new first block
    # keeps its own, and only links from message text are disarmed.
    view.load_transcript([user(1, "q")])
    show_live(view, StreamSnapshot(1, 2, S.STREAMING, "[first](sidestream:retry/2) text\n\n"))
    show_live(
        view, StreamSnapshot(1, 2, S.STREAMING, "[first](sidestream:retry/2) text\n\n## Head\n\n")
    )
    text = (
        "[first](sidestream:retry/2) text\n\n## Head\n\n```python\nx = 1\n```\n\n"
        "### Sub [bad](sidestream:continue/2)\n\ntail [web](https://example.com)"
    )
    show_live(view, StreamSnapshot(1, 2, S.COMPLETE, text))
    hrefs = anchors(view)
    assert "sidestream:copy/2" in hrefs  # the header's own link
    assert "sidestream:copy-code/2/0" in hrefs
    assert "https://example.com" in hrefs
    assert "sidestream:retry/2" in hrefs  # the status line's, not the text's
    assert len(hrefs["sidestream:retry/2"]) == 1
    assert "sidestream:continue/2" not in hrefs
    levels = {}
    block = view.document().begin()
    while block.isValid():
        levels[block.text()] = block.blockFormat().headingLevel()
        block = block.next()
    assert levels["Head"] == 2
    assert levels["Sub bad"] == 3
    assert levels["first text"] == 0
    assert "x = 1" in plain(view)
    check_regions(view)


# ---------------------------------------------------------------- actions


def test_copy_actions_put_text_on_the_clipboard(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript([user(1, "my **question**"), assistant(2, REPLY)])
    clipboard = QGuiApplication.clipboard()
    with qtbot.waitSignal(view.copied) as blocker:
        click_anchor(qtbot, view, "sidestream:copy/2")
    assert clipboard.text() == REPLY
    assert blocker.args == ["Copied the message"]
    click_anchor(qtbot, view, "sidestream:copy/1")
    assert clipboard.text() == "my **question**"
    click_anchor(qtbot, view, "sidestream:copy-code/2/0")
    assert clipboard.text() == (
        "def parse(path):\n    # one line at a time\n\n    return [line for line in open(path)]"
    )
    click_anchor(qtbot, view, "sidestream:copy-code/2/1")
    assert clipboard.text() == "make run"


def test_copy_code_while_streaming(view: ChatView) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(assistant(2, "", S.STREAMING))
    stream(view, 2, "Intro\n\n```js\nlet a = 1;\n\nlet b = 2;\n```\n\nmid\n\n```go\nfunc x", 5)
    view.copy_code(2, 0)
    assert QGuiApplication.clipboard().text() == "let a = 1;\n\nlet b = 2;"
    view.copy_code(2, 1)  # the open block in the tail
    assert QGuiApplication.clipboard().text() == "func x"


def test_continue_and_retry_links_emit_signals(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript([user(1, "q"), assistant(7, "partial", S.INTERRUPTED, reason="app quit")])
    with qtbot.waitSignal(view.continue_requested) as blocker:
        click_anchor(qtbot, view, "sidestream:continue/7")
    assert blocker.args == [7]
    with qtbot.waitSignal(view.retry_requested) as blocker:
        click_anchor(qtbot, view, "sidestream:retry/7")
    assert blocker.args == [7]


def test_context_menu_copies_message_and_selection(view: ChatView) -> None:
    view.load_transcript([user(1, "alpha"), assistant(2, "beta gamma")])
    cursor = view.document().find("beta gamma")
    point = view.browser.cursorRect(cursor).center()
    menu = view.context_menu(point)
    actions = {action.text(): action for action in menu.actions() if action.text()}
    assert actions["Copy message"].isEnabled()
    assert not actions["Copy selection"].isEnabled()
    actions["Copy message"].trigger()
    assert QGuiApplication.clipboard().text() == "beta gamma"
    view.browser.setTextCursor(cursor)
    menu = view.context_menu(point)
    actions = {action.text(): action for action in menu.actions() if action.text()}
    assert actions["Copy selection"].isEnabled()
    QGuiApplication.clipboard().clear()
    actions["Copy selection"].trigger()
    assert QGuiApplication.clipboard().text() == "beta gamma"


# ---------------------------------------------------------------- scrolling


def test_follows_the_stream_until_the_user_scrolls_up(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript([user(1, "q")])
    view.add_message(assistant(2, "", S.STREAMING))
    bar = view.browser.verticalScrollBar()
    stream(view, 2, "".join(f"Line {n} of the answer.\n\n" for n in range(80)), 50)
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert view.following
    assert bar.value() == bar.maximum()

    bar.setValue(bar.maximum() // 2)  # the user scrolls up
    assert not view.following
    held = bar.value()
    stream(view, 2, "".join(f"More {n}.\n\n" for n in range(40)), 50)
    assert bar.value() == held

    bar.setValue(bar.maximum())  # back to the bottom: following again
    assert view.following
    stream(view, 2, "".join(f"Even more {n}.\n\n" for n in range(40)), 50)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    view.scroll_to_bottom()
    assert view.following


# ---------------------------------------------------------------- long chats


def test_a_thousand_messages_load_and_older_ones_come_in_on_demand(
    view: ChatView, qtbot: QtBot
) -> None:
    messages: list[Message] = []
    for n in range(1, 1001):
        if n % 2:
            messages.append(user(n, f"Question {n}?"))
        else:
            messages.append(assistant(n, f"Answer {n}.\n\n```py\nx = {n}\n```\n\n" + "word " * 150))
    view.load_transcript(messages)
    assert view.message_ids() == list(range(1, 1001))
    assert view.hidden_count > 0
    shown = len(view.renderer.regions())
    assert shown + view.hidden_count == 1000
    assert plain(view).startswith(f"Show {view.hidden_count} earlier messages")
    assert view.message_text(2).startswith("Answer 2.")  # hidden, but known
    check_regions(view)
    bar = view.browser.verticalScrollBar()
    assert bar.value() == bar.maximum()

    # Scrolling to the top brings in the next batch, keeping the view still.
    top_block_text = "Question"
    bar.setValue(0)
    qtbot.waitUntil(lambda: len(view.renderer.regions()) > shown)
    assert bar.value() > 0
    assert top_block_text in plain(view)
    check_regions(view)

    # The link does the same; eventually everything is there.
    while view.hidden_count:
        click_anchor(qtbot, view, "sidestream:earlier/0")
    assert len(view.renderer.regions()) == 1000
    assert "earlier message" not in plain(view)
    check_regions(view)
    assert plain(view).startswith("You    Copy  ·  Edit\nQuestion 1?")
    append_text(view, 1000, " appended")
    assert view.message_text(1000).endswith("word  appended")
    check_regions(view)


def test_hidden_messages_can_change_and_be_removed(view: ChatView) -> None:
    messages = [assistant(n, "x" * 30_000) for n in range(1, 6)]
    view.load_transcript(messages)
    assert view.hidden_count == 3
    view.remove_message(1)
    set_message_state(view, 2, S.FAILED, "boom", None)
    assert plain(view).startswith("Show 2 earlier messages")
    assert view.show_earlier() == 2
    assert view.message_ids() == [2, 3, 4, 5]
    assert "Failed: boom" in plain(view)
    check_regions(view)


def test_bulk_load_falls_back_when_a_sentinel_is_swallowed(
    view: ChatView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [
        user(1, "q"),
        assistant(2, REPLY, S.STOPPED),
        user(3, "Quote the marker:\n\n```\nssmarkdeadbeef\n```"),
        assistant(4, "ok", S.FAILED, error="boom"),
    ]
    reference = ChatView()
    qtbot.addWidget(reference)
    reference.load_transcript(messages)
    assert reference.render_stats.bulk_fallbacks == 0

    monkeypatch.setattr("desktop.ui.render.bulk.secrets.token_hex", lambda _n: "deadbeef")
    view.load_transcript(messages)
    assert view.render_stats.bulk_fallbacks == 1
    assert lines(view) == lines(reference)
    assert anchors(view).keys() == anchors(reference).keys()
    check_regions(view)


# ---------------------------------------------------------------- palette


def test_palette_change_re_renders_in_the_new_colours(view: ChatView, qtbot: QtBot) -> None:
    view.load_transcript([user(1, "q"), assistant(2, REPLY, S.STOPPED)])
    before = plain(view)
    assert not view.theme.dark
    dark = QPalette(view.palette())
    for role, colour in (
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.Window, "#252526"),
        (QPalette.ColorRole.Text, "#dddddd"),
        (QPalette.ColorRole.WindowText, "#dddddd"),
    ):
        dark.setColor(role, colour)
    view.setPalette(dark)
    qtbot.waitUntil(lambda: view.theme.dark)
    assert plain(view) == before
    check_regions(view)
    view.browser.viewport().repaint()


# ---------------------------------------------------------------- consistency

PIECES = [
    "Some words ",
    "**bold** ",
    "`code` ",
    "\n",
    "\n\n",
    "- item\n",
    "1. first\n",
    "  continued\n",
    "> quoted\n",
    "## Heading\n",
    "```py\nx = 1\n",
    "```\n",
    "~~~\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n",
    "    indented\n",
    "<b>raw</b> ",
    "[link](https://example.com) ",
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("user"), st.lists(st.sampled_from(PIECES), max_size=4)),
        st.tuples(st.just("reply"), st.lists(st.sampled_from(PIECES), max_size=3)),
        st.tuples(st.just("delta"), st.lists(st.sampled_from(PIECES), min_size=1, max_size=4)),
        st.tuples(st.just("snapshot"), st.lists(st.sampled_from(PIECES), max_size=6)),
        st.tuples(st.just("state"), st.sampled_from(list(MessageStatus))),
        st.tuples(st.just("remove"), st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("reasoning"), st.lists(st.sampled_from(PIECES), min_size=1, max_size=4)),
        st.tuples(st.just("reasoned"), st.floats(min_value=0.1, max_value=200.0)),
        st.tuples(st.just("usage"), st.integers(min_value=0, max_value=99_999)),
    ),
    max_size=25,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations)
# A reply that reasons, answers and ends; one that reasons on after a stop and
# a Continue, its section open to the end; one whose answer is replaced whole.
@example(
    [
        ("user", ["q"]),
        ("reply", []),
        ("reasoning", ["Some words ", "\n"]),
        ("reasoning", ["- item\n", "`code` "]),
        ("reasoned", 3.0),
        ("delta", ["**bold** "]),
        ("state", S.COMPLETE),
        ("usage", 1234),
    ]
)
@example(
    [
        ("reply", []),
        ("reasoning", ["\n\n", "Some words "]),
        ("state", S.STOPPED),
        ("state", S.STREAMING),
        ("reasoning", ["> quoted\n"]),
        ("reasoning", ["## Heading\n", "Some words "]),
        ("user", ["q"]),
    ]
)
@example(
    [
        ("reply", ["Some words "]),
        ("reasoning", ["`code` "]),
        ("snapshot", ["**bold** "]),
        ("snapshot", []),
        ("reasoning", ["\n", "- item\n"]),
        ("reasoned", 75.0),
    ]
)
def test_any_sequence_of_updates_matches_a_fresh_load(
    qtbot: QtBot, steps: list[tuple[str, Any]]
) -> None:
    view = ChatView()
    qtbot.addWidget(view)
    messages: dict[int, Message] = {}
    next_id = 1
    for kind, arg in steps:
        live = [m for m in messages.values() if m.role is Role.ASSISTANT]
        last = live[-1] if live else None
        if kind in ("user", "reply"):
            role = Role.USER if kind == "user" else Role.ASSISTANT
            status = S.COMPLETE if kind == "user" else S.STREAMING
            message = Message(next_id, 1, role, "".join(arg), status)
            messages[next_id] = message
            view.add_message(Message(next_id, 1, role, message.content, status))
            next_id += 1
        elif kind == "delta" and last is not None:
            text = "".join(arg)
            last.content += text
            append_text(view, last.id, text)
        elif kind == "snapshot" and last is not None:
            text = "".join(arg)
            if last.content.startswith(text) and text != last.content:
                continue  # a stale snapshot: covered elsewhere
            last.content = text
            # A snapshot carries the whole live state, its error included.
            show_live(view, StreamSnapshot(1, last.id, last.status, text, error=last.error))
        elif kind == "state" and last is not None:
            last.status = arg
            set_message_state(view, last.id, arg, "err" if arg is S.FAILED else None, None)
            last.error = "err" if arg is S.FAILED else None
        elif kind == "remove" and messages:
            victim = list(messages)[arg % len(messages)]
            del messages[victim]
            view.remove_message(victim)
        elif kind == "reasoning" and last is not None:
            # Reasoning as the feed hands it over: after what the view holds.
            text = "".join(arg)
            held = len(last.reasoning)
            last.reasoning += text
            view.reconcile(
                MessageUpdate(last.id, "", len(last.content), reasoning=text, reasoning_offset=held)
            )
        elif kind == "reasoned" and last is not None:
            last.reasoning_seconds = arg
            view.reconcile(MessageUpdate(last.id, "", len(last.content), reasoning_seconds=arg))
        elif kind == "usage" and last is not None:
            last.input_tokens, last.output_tokens = arg, arg // 3
            view.reconcile(
                MessageUpdate(
                    last.id, "", len(last.content), input_tokens=arg, output_tokens=arg // 3
                )
            )
        assert view.message_ids() == list(messages)
        check_regions(view)
    for message in messages.values():
        assert view.message_text(message.id) == message.content
        assert view.message_reasoning(message.id) == message.reasoning

    fresh = ChatView()
    qtbot.addWidget(fresh)
    fresh.load_transcript(list(messages.values()))
    assert lines(view) == lines(fresh)


def test_a_long_plain_tail_ending_under_a_later_message_keeps_every_region_in_place(
    view: ChatView,
) -> None:
    """A tail past TAIL_MARKDOWN_LIMIT streams as plain text and becomes Markdown
    when the reply ends: the messages after it must move with it."""
    view.load_transcript([user(1, "q")])
    view.add_message(assistant(2, "", S.STREAMING))
    # One open paragraph (no blank line): the whole tail is one block, shown plain.
    tail = " ".join(f"**word {i}** and more" for i in range(400))
    append_text(view, 2, tail)
    assert view.renderer.region(2).tail_plain  # type: ignore[union-attr]
    view.add_message(user(3, "a later question"))
    set_message_state(view, 2, S.COMPLETE)
    check_regions(view)
    assert view.message_text(3) == "a later question"


def test_adding_a_reply_while_the_last_one_is_hidden_leaves_the_document_whole(
    view: ChatView,
) -> None:
    """The newest reply scrolled out of the loaded window has no status line to
    redo when a newer reply arrives."""
    big = "x " * 30_000  # two long questions push the last reply out of the window
    view.load_transcript([user(1, "q"), assistant(2, "old reply"), user(3, big), user(4, big)])
    assert 2 not in [r.message_id for r in view.renderer.regions()]
    view.add_message(assistant(5, "new", S.STREAMING))
    check_regions(view)
    assert view.message_text(5) == "new"
