"""Syntax highlighting for fenced code blocks in the transcript document.

The Markdown importer marks every line of a code block with the block
property ``QTextFormat.BlockCodeLanguage`` (the fence's info string, "" for
none); :class:`CodeHighlighter` colours those lines and leaves every other
block alone, cheaply, because it runs for every block of the transcript.

Each language is a small table (keywords, types, comment and string syntax)
compiled into one tokenising regex; multi-line comments and strings carry
over between lines through the block state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from PySide6.QtGui import (
    QColor,
    QFont,
    QPalette,
    QSyntaxHighlighter,
    QTextBlock,
    QTextCharFormat,
    QTextDocument,
    QTextFormat,
)

CODE_LANGUAGE = QTextFormat.Property.BlockCodeLanguage

# Block states: -1 (Qt's default) and NORMAL mean "nothing open".
NORMAL = 0
IN_BLOCK_COMMENT = 1
IN_STRING_BASE = 2  # + index into LanguageSpec.multiline_strings


@dataclass(frozen=True)
class LanguageSpec:
    """What a highlighter needs to know about one language."""

    keywords: frozenset[str]
    types: frozenset[str] = frozenset()
    constants: frozenset[str] = frozenset()
    line_comment: str | None = None  # regex for a comment running to the end of the line
    block_comment: tuple[str, str] | None = None
    quotes: str = "\"'"  # single-line string delimiters
    multiline_strings: tuple[str, ...] = ()  # delimiters that may span lines (same open/close)
    case_insensitive: bool = False
    markup: bool = False  # tags and attributes (HTML/XML)
    extra: tuple[tuple[str, str], ...] = ()  # (category, regex) checked before identifiers
    token_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts: list[str] = []
        if self.block_comment is not None:
            parts.append(f"(?P<bc>{re.escape(self.block_comment[0])})")
        if self.line_comment is not None:
            parts.append(f"(?P<lc>{self.line_comment})")
        if self.multiline_strings:
            alts = "|".join(re.escape(d) for d in self.multiline_strings)
            parts.append(f"(?P<ms>{alts})")
        for index, (_category, pattern) in enumerate(self.extra):
            parts.append(f"(?P<x{index}>{pattern})")
        if self.quotes:
            alts = "|".join(
                f"{re.escape(q)}(?:\\\\.|[^\\\\{re.escape(q)}])*(?:{re.escape(q)}|$)"
                for q in self.quotes
            )
            parts.append(f"(?P<str>{alts})")
        if self.markup:
            parts.append(r"(?P<tag></?[A-Za-z!?][\w:.-]*|/?>|\?>)")
            parts.append(r"(?P<attr>[A-Za-z_:][\w:.-]*(?=\s*=))")
            parts.append(r"(?P<entity>&#?\w+;)")
        parts.append(
            r"(?P<num>\b(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+"
            r"|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)[a-zA-Z_]*\b)"
        )
        parts.append(r"(?P<word>[A-Za-z_$][\w$]*)")
        flags = re.IGNORECASE if self.case_insensitive else 0
        object.__setattr__(self, "token_re", re.compile("|".join(parts), flags))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SLASH_COMMENT = r"//.*"
_STAR_COMMENT = ("/*", "*/")

_C_KEYWORDS = """auto break case const continue default do else enum extern for goto if inline
    register restrict return sizeof static struct switch typedef union volatile while _Alignas
    _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local"""
_C_TYPES = """bool char double float int long short signed unsigned void size_t ssize_t ptrdiff_t
    int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t uintptr_t intptr_t FILE"""
_CPP_KEYWORDS = """alignas alignof and and_eq asm catch class co_await co_return co_yield concept
    consteval constexpr constinit const_cast decltype delete dynamic_cast explicit export friend
    mutable namespace new noexcept not not_eq operator or or_eq private protected public
    reinterpret_cast requires static_assert static_cast template this thread_local throw try
    typeid typename using virtual xor xor_eq override final"""
_CPP_TYPES = "std string vector map set unique_ptr shared_ptr optional auto wchar_t char8_t"
_JS_KEYWORDS = """async await break case catch class const continue debugger default delete do
    else export extends finally for from function if import in instanceof let new of return
    static super switch this throw try typeof var void while with yield get set"""
_TS_KEYWORDS = """abstract as declare enum implements interface keyof namespace private protected
    public readonly type satisfies infer is module override"""
_TS_TYPES = """any boolean never number object string symbol unknown bigint void Array Promise
    Record Partial Readonly Map Set"""

LANGUAGES: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        keywords=_words(
            """and as assert async await break class continue def del elif else except finally
            for from global if import in is lambda nonlocal not or pass raise return try while
            with yield match case type"""
        ),
        types=_words(
            """int float str bytes bool list dict set tuple frozenset object type len range print
            isinstance super open enumerate zip map filter sorted min max sum any all repr
            Exception ValueError TypeError KeyError RuntimeError self cls"""
        ),
        constants=_words("True False None NotImplemented Ellipsis"),
        line_comment=r"#.*",
        quotes="\"'",
        multiline_strings=('"""', "'''"),
        extra=(("meta", r"@[\w.]+"),),
    ),
    "javascript": LanguageSpec(
        keywords=_words(_JS_KEYWORDS),
        types=_words("Array Object String Number Boolean Promise Map Set JSON Math console window"),
        constants=_words("true false null undefined NaN Infinity"),
        quotes="\"'",
        multiline_strings=("`",),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "typescript": LanguageSpec(
        keywords=_words(_JS_KEYWORDS + " " + _TS_KEYWORDS),
        types=_words(_TS_TYPES),
        constants=_words("true false null undefined NaN Infinity"),
        quotes="\"'",
        multiline_strings=("`",),
        extra=(("meta", r"@\w+"),),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "bash": LanguageSpec(
        keywords=_words(
            """if then else elif fi for while until do done case esac function in select return
            exit break continue local export readonly declare unset shift source alias set"""
        ),
        types=_words(
            """echo printf cd ls cat grep sed awk find xargs curl wget git sudo apt pip python
            mkdir rm cp mv chmod chown test read eval exec trap kill"""
        ),
        constants=_words("true false"),
        line_comment=r"(?:(?<=\s)|^)#.*",
        quotes="\"'",
        extra=(("meta", r"\$(?:\{[^}]*\}|\w+|[@*#?$!0-9-])"),),
    ),
    "json": LanguageSpec(
        keywords=frozenset(),
        constants=_words("true false null"),
        quotes='"',
        extra=(("key", r'"(?:\\.|[^\\"])*"(?=\s*:)'),),
    ),
    "rust": LanguageSpec(
        keywords=_words(
            """as async await break const continue crate dyn else enum extern fn for if impl in
            let loop match mod move mut pub ref return static struct super trait type unsafe use
            where while Self self"""
        ),
        types=_words(
            """i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize f32 f64 bool char str String
            Vec Option Result Box Rc Arc HashMap HashSet Some None Ok Err"""
        ),
        constants=_words("true false"),
        quotes='"',
        extra=(
            ("string", r"'(?:\\.|[^\\'])'"),
            ("meta", r"#!?\[[^\]]*\]|\b\w+!"),
            ("meta", r"'\w+"),
        ),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "go": LanguageSpec(
        keywords=_words(
            """break case chan const continue default defer else fallthrough for func go goto if
            import interface map package range return select struct switch type var"""
        ),
        types=_words(
            """bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64
            rune string uint uint8 uint16 uint32 uint64 uintptr any append cap close copy
            delete len make new panic print println recover"""
        ),
        constants=_words("true false nil iota"),
        quotes="\"'",
        multiline_strings=("`",),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "c": LanguageSpec(
        keywords=_words(_C_KEYWORDS),
        types=_words(_C_TYPES),
        constants=_words("NULL true false"),
        extra=(("meta", r"^\s*#\s*\w+"),),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "cpp": LanguageSpec(
        keywords=_words(_C_KEYWORDS + " " + _CPP_KEYWORDS),
        types=_words(_C_TYPES + " " + _CPP_TYPES),
        constants=_words("NULL nullptr true false"),
        extra=(("meta", r"^\s*#\s*\w+"),),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "java": LanguageSpec(
        keywords=_words(
            """abstract assert break case catch class const continue default do else enum
            extends final finally for goto if implements import instanceof interface native new
            package private protected public return static strictfp super switch synchronized
            this throw throws transient try volatile while var record sealed permits yield"""
        ),
        types=_words(
            """boolean byte char double float int long short void String Object Integer Long
            List Map Set ArrayList HashMap Optional Exception"""
        ),
        constants=_words("true false null"),
        multiline_strings=('"""',),
        extra=(("meta", r"@\w+"),),
        line_comment=_SLASH_COMMENT,
        block_comment=_STAR_COMMENT,
    ),
    "sql": LanguageSpec(
        keywords=_words(
            """select from where and or not insert into values update set delete create table
            drop alter add column index view primary key foreign references join inner left
            right outer full cross on as group by order having limit offset union all distinct
            case when then else end is null like in between exists begin commit rollback
            transaction with returning default constraint unique check if asc desc pragma"""
        ),
        types=_words(
            """int integer bigint smallint text varchar char boolean real double float numeric
            decimal date time timestamp blob json jsonb serial count sum avg min max coalesce"""
        ),
        constants=_words("true false null"),
        line_comment=r"--.*",
        block_comment=("/*", "*/"),
        quotes="'\"",
        case_insensitive=True,
    ),
    "html": LanguageSpec(
        keywords=frozenset(),
        block_comment=("<!--", "-->"),
        quotes="\"'",
        markup=True,
    ),
}

ALIASES = {
    "py": "python",
    "python3": "python",
    "py3": "python",
    "pycon": "python",
    "js": "javascript",
    "jsx": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "tsx": "typescript",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "console": "bash",
    "shellsession": "bash",
    "jsonc": "json",
    "json5": "json",
    "rs": "rust",
    "golang": "go",
    "h": "c",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "hxx": "cpp",
    "xml": "html",
    "xhtml": "html",
    "svg": "html",
    "htm": "html",
    "vue": "html",
    "plsql": "sql",
    "postgresql": "sql",
    "postgres": "sql",
    "mysql": "sql",
    "sqlite": "sql",
}


@cache
def language_spec(info: str) -> LanguageSpec | None:
    """The spec for a fence info string ("python", "ts {1,3}", "C++"), if known."""
    words = info.strip().split()
    if not words:
        return None
    name = words[0].lower().lstrip(".")
    return LANGUAGES.get(ALIASES.get(name, name))


@dataclass(frozen=True)
class SyntaxTheme:
    """Colours for the token categories, chosen to read on the palette's base."""

    keyword: QColor
    type: QColor
    constant: QColor
    string: QColor
    comment: QColor
    number: QColor
    meta: QColor

    @classmethod
    def for_palette(cls, palette: QPalette) -> SyntaxTheme:
        if palette.color(QPalette.ColorRole.Base).lightness() < 128:
            return cls(
                keyword=QColor("#c792ea"),
                type=QColor("#82aaff"),
                constant=QColor("#f78c6c"),
                string=QColor("#c3e88d"),
                comment=QColor("#8a93a6"),
                number=QColor("#f78c6c"),
                meta=QColor("#ffcb6b"),
            )
        return cls(
            keyword=QColor("#8e3ca8"),
            type=QColor("#1f5fbf"),
            constant=QColor("#b35900"),
            string=QColor("#2e7d32"),
            comment=QColor("#6b7280"),
            number=QColor("#b35900"),
            meta=QColor("#9a6700"),
        )


def _char_format(color: QColor, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(color)
    if bold:
        fmt.setFontWeight(QFont.Weight.DemiBold)
    if italic:
        fmt.setFontItalic(True)
    return fmt


class CodeHighlighter(QSyntaxHighlighter):
    """Colours code blocks by the language in their ``BlockCodeLanguage`` property.

    Attach it to a document *before* filling it: attached afterwards, Qt
    re-highlights (and re-lays out) every block one by one, which is slow.
    """

    def __init__(self, document: QTextDocument, theme: SyntaxTheme) -> None:
        super().__init__(document)
        self.blocks_highlighted = 0
        self._languages: dict[int, str | None] = {}
        self._formats = {
            "keyword": _char_format(theme.keyword, bold=True),
            "type": _char_format(theme.type),
            "constant": _char_format(theme.constant),
            "string": _char_format(theme.string),
            "comment": _char_format(theme.comment, italic=True),
            "number": _char_format(theme.number),
            "meta": _char_format(theme.meta),
            "key": _char_format(theme.type),
            "tag": _char_format(theme.keyword),
            "attr": _char_format(theme.type),
            "entity": _char_format(theme.constant),
        }

    def highlightBlock(self, text: str) -> None:
        block = self.currentBlock()
        info = self._language_of(block)
        if info is None:
            return
        spec = language_spec(info)
        if spec is None:
            return
        self.blocks_highlighted += 1
        previous = block.previous()
        state = self.previousBlockState()
        if not previous.isValid() or self._language_of(previous) != info:
            state = NORMAL
        self.setCurrentBlockState(self._highlight(spec, text, state))

    def _language_of(self, block: QTextBlock) -> str | None:
        """The block's code language, looked up once per block format.

        A document's formats are only ever added to (until it is cleared,
        which the renderer never does to a highlighted document), so a block
        format index keeps its meaning; most blocks are prose, and this skips
        copying their format just to find they are not code.
        """
        index = block.blockFormatIndex()
        try:
            return self._languages[index]
        except KeyError:
            info = block.blockFormat().property(CODE_LANGUAGE)
            language = info if isinstance(info, str) and info else None
            self._languages[index] = language
            return language

    def _highlight(self, spec: LanguageSpec, text: str, state: int) -> int:
        to16 = _utf16_offsets(text)
        fmt = self._formats

        def paint(start: int, end: int, category: str) -> None:
            if to16 is None:
                self.setFormat(start, end - start, fmt[category])
            else:
                self.setFormat(to16[start], to16[end] - to16[start], fmt[category])

        pos = 0
        if state == IN_BLOCK_COMMENT and spec.block_comment is not None:
            close = text.find(spec.block_comment[1])
            if close < 0:
                paint(0, len(text), "comment")
                return IN_BLOCK_COMMENT
            pos = close + len(spec.block_comment[1])
            paint(0, pos, "comment")
        elif state >= IN_STRING_BASE and state - IN_STRING_BASE < len(spec.multiline_strings):
            delimiter = spec.multiline_strings[state - IN_STRING_BASE]
            close = _find_closing(text, 0, delimiter)
            if close < 0:
                paint(0, len(text), "string")
                return state
            pos = close + len(delimiter)
            paint(0, pos, "string")

        token_re = spec.token_re
        while True:
            match = token_re.search(text, pos)
            if match is None:
                return NORMAL
            kind = match.lastgroup or ""
            start, end = match.span()
            pos = end if end > start else start + 1
            if kind == "bc" and spec.block_comment is not None:
                close = text.find(spec.block_comment[1], end)
                if close < 0:
                    paint(start, len(text), "comment")
                    return IN_BLOCK_COMMENT
                pos = close + len(spec.block_comment[1])
                paint(start, pos, "comment")
            elif kind == "lc":
                paint(start, len(text), "comment")
                return NORMAL
            elif kind == "ms":
                delimiter = match.group("ms")
                close = _find_closing(text, end, delimiter)
                if close < 0:
                    paint(start, len(text), "string")
                    return IN_STRING_BASE + spec.multiline_strings.index(delimiter)
                pos = close + len(delimiter)
                paint(start, pos, "string")
            elif kind == "str":
                paint(start, end, "string")
            elif kind == "num":
                paint(start, end, "number")
            elif kind == "word":
                word = match.group("word")
                key = word.lower() if spec.case_insensitive else word
                if key in spec.keywords:
                    paint(start, end, "keyword")
                elif key in spec.constants:
                    paint(start, end, "constant")
                elif key in spec.types:
                    paint(start, end, "type")
            elif kind in ("tag", "attr", "entity"):
                paint(start, end, kind)
            elif kind.startswith("x"):
                paint(start, end, spec.extra[int(kind[1:])][0])


def _find_closing(text: str, start: int, delimiter: str) -> int:
    """Index of the unescaped ``delimiter`` at or after ``start``, or -1."""
    pos = start
    while True:
        found = text.find(delimiter, pos)
        if found < 0:
            return -1
        backslashes = 0
        index = found - 1
        while index >= start and text[index] == "\\":
            backslashes += 1
            index -= 1
        if backslashes % 2 == 0:
            return found
        pos = found + 1


def _utf16_offsets(text: str) -> list[int] | None:
    """Map Python indices to UTF-16 offsets (Qt's), or None when they coincide."""
    if text.isascii() or all(ord(ch) <= 0xFFFF for ch in text):
        return None
    offsets = [0]
    total = 0
    for ch in text:
        total += 2 if ord(ch) > 0xFFFF else 1
        offsets.append(total)
    return offsets
