"""The code highlighter colours code blocks by their fence language, and only them."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette, QTextBlock, QTextDocument
from pytestqt.qtbot import QtBot

from desktop.ui.render.document import MARKDOWN_FEATURES
from desktop.ui.render.highlight import CodeHighlighter, SyntaxTheme, language_spec

LIGHT = SyntaxTheme.for_palette(QPalette(QColor("white")))


def highlighted(markdown: str) -> QTextDocument:
    doc = QTextDocument()
    highlighter = CodeHighlighter(doc, LIGHT)
    doc.setMarkdown(markdown, MARKDOWN_FEATURES)
    highlighter.rehighlight()  # setMarkdown on a document without layout reports no change
    return doc


def block_with(doc: QTextDocument, text: str) -> QTextBlock:
    block = doc.begin()
    while block.isValid():
        if text in block.text():
            return block
        block = block.next()
    raise AssertionError(f"no block contains {text!r}")


def colour_at(block: QTextBlock, word: str) -> str | None:
    """The foreground the highlighter gave to ``word`` in this block (None if none)."""
    start = block.text().index(word)
    for fmt_range in block.layout().formats():
        if fmt_range.start <= start < fmt_range.start + fmt_range.length:
            return fmt_range.format.foreground().color().name()
    return None


def test_python_block_gets_keyword_string_comment_and_number_formats(qtbot: QtBot) -> None:
    doc = highlighted(
        "Some `def` prose.\n\n```python\ndef greet(name):\n"
        '    # say hi\n    return "hi " + name * 42\n```\n'
    )
    code = block_with(doc, "def greet")
    assert colour_at(code, "def") == LIGHT.keyword.name()
    assert colour_at(code, "greet") is None
    body = block_with(doc, "return")
    assert colour_at(body, "return") == LIGHT.keyword.name()
    assert colour_at(body, '"hi "') == LIGHT.string.name()
    assert colour_at(body, "42") == LIGHT.number.name()
    assert colour_at(block_with(doc, "# say hi"), "# say hi") == LIGHT.comment.name()
    # Prose is left alone, even when it mentions a keyword.
    assert block_with(doc, "prose").layout().formats() == []


def test_multiline_strings_and_comments_carry_over_lines(qtbot: QtBot) -> None:
    doc = highlighted(
        '```python\nx = """first\nstill string\n"""\ny = 1\n```\n\n'
        "```c\n/* start\nstill comment */ int z;\n```\n"
    )
    assert colour_at(block_with(doc, "still string"), "still") == LIGHT.string.name()
    assert colour_at(block_with(doc, "y = 1"), "1") == LIGHT.number.name()
    line = block_with(doc, "still comment")
    assert colour_at(line, "still") == LIGHT.comment.name()
    assert colour_at(line, "int") == LIGHT.keyword.name() or colour_at(line, "int") == (
        LIGHT.type.name()
    )


def test_state_does_not_leak_between_separate_code_blocks(qtbot: QtBot) -> None:
    doc = highlighted('```python\ns = """never closed\n```\n\ntext\n\n```python\nimport os\n```\n')
    assert colour_at(block_with(doc, "import os"), "import") == LIGHT.keyword.name()


def test_adjacent_code_blocks_of_different_languages_keep_their_own_rules(qtbot: QtBot) -> None:
    # The language is looked up per block format: adjacent blocks with
    # different formats must neither share a language nor carry state over.
    doc = highlighted(
        '```python\ns = """open\n```\n```c\nint z; // c\n```\n\n```python\nimport os\n```\n'
    )
    line = block_with(doc, "int z;")
    assert colour_at(line, "// c") == LIGHT.comment.name()
    assert colour_at(line, "int") != LIGHT.string.name()
    assert colour_at(block_with(doc, "import os"), "import") == LIGHT.keyword.name()
    assert colour_at(block_with(doc, 's = """open'), '"""open') == LIGHT.string.name()


@pytest.mark.parametrize(
    ("info", "line", "word", "category"),
    [
        ("python", "while True: pass", "while", "keyword"),
        ("py", "x = None", "None", "constant"),
        ("javascript", "const a = 'x';", "const", "keyword"),
        ("js", "let t = `tmpl`;", "`tmpl`", "string"),
        ("typescript", "interface A { b: string }", "interface", "keyword"),
        ("tsx", "type T = number;", "number", "type"),
        ("bash", "if [ -f x ]; then echo $HOME; fi", "then", "keyword"),
        ("sh", "echo hi # note", "# note", "comment"),
        ("json", '{"key": true, "n": 1.5}', '"key"', "type"),
        ("json", '{"key": true}', "true", "constant"),
        ("rust", "fn main() { let v: Vec<u8> = vec![]; }", "fn", "keyword"),
        ("go", "func main() { var s string }", "func", "keyword"),
        ("c", "int main(void) { return 0; }", "return", "keyword"),
        ("cpp", "template <typename T> class A {};", "template", "keyword"),
        ("java", "public static void main(String[] a) {}", "public", "keyword"),
        ("sql", "SELECT name FROM users WHERE id = 1", "SELECT", "keyword"),
        ("sql", "select 'x' -- trailing", "-- trailing", "comment"),
        ("html", '<a href="x">link</a>', "href", "type"),
        ("xml", "<!-- note --><root/>", "<!-- note -->", "comment"),
    ],
)
def test_each_language_highlights(
    qtbot: QtBot, info: str, line: str, word: str, category: str
) -> None:
    doc = highlighted(f"```{info}\n{line}\n```\n")
    expected = getattr(LIGHT, category).name()
    assert colour_at(block_with(doc, line), word) == expected


def test_unknown_languages_and_plain_fences_are_left_alone(qtbot: QtBot) -> None:
    doc = highlighted("```brainfuck\nif while return\n```\n\n```\nif while\n```\n")
    assert block_with(doc, "if while return").layout().formats() == []
    assert language_spec("") is None
    assert language_spec("Python {linenos}") is language_spec("python")
    assert language_spec("C++") is language_spec("cpp")


def test_offsets_account_for_characters_outside_the_bmp(qtbot: QtBot) -> None:
    doc = highlighted('```python\ns = "😀😀"; return\n```\n')
    block = block_with(doc, "return")
    # Qt counts UTF-16 units: each emoji is two.
    start16 = len('s = "😀😀"; '.encode("utf-16-le")) // 2
    found = [r for r in block.layout().formats() if r.start == start16]
    assert found
    assert found[0].length == len("return")
    assert found[0].format.foreground().color().name() == LIGHT.keyword.name()


def test_dark_palettes_get_light_colours() -> None:
    dark = SyntaxTheme.for_palette(QPalette(QColor("#202020")))
    assert dark.keyword.lightness() > LIGHT.keyword.lightness()
    assert dark.comment.lightness() > 110
