"""The parameter fields of a chat or a preset: temperature, top-p, maximum
output tokens, reasoning effort and thinking budget.

One widget, :class:`ParamsForm`, serves both the chat settings dialog and the
preset editor. Each field may be left empty ("Model default"): an unset field
is left out of the request, so the provider's or the model's own default
applies. Numbers are typed, not clamped: a value out of range stays as typed
and :meth:`ParamsForm.params` says why it is refused, in the words of
:meth:`GenerationParams.validate`, naming the field to put the focus on.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from desktop.core.models import MIN_THINKING_BUDGET, REASONING_EFFORTS, GenerationParams
from desktop.ui import style
from desktop.ui.plain import plain_label, tooltip

UNSET_TEXT = "Model default"
PARAMS_HELP = (
    "Leave a field empty to use the model's default: it is then left out of the "
    "request. Reasoning effort is sent to OpenAI's reasoning models (Chat "
    "Completions and Responses); thinking budget turns on Anthropic's extended "
    "thinking. A provider without a setting ignores it."
)
EFFORT_LABELS = {
    "none": "None (no reasoning)",
    "minimal": "Minimal",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "xhigh": "Extra high",
}
FIELD_NAMES = {
    "temperature": "Temperature",
    "top_p": "Top-p",
    "max_output_tokens": "Maximum output tokens",
    "reasoning_effort": "Reasoning effort",
    "thinking_budget": "Thinking budget",
}
# Thousands separators a whole number may be typed with ("4,096", "4 096").
_SEPARATORS = str.maketrans("", "", ",_' \u00a0\u202f")


class ParamsInputError(ValueError):
    """A field holds a value that cannot be used; ``field`` names it (a key of FIELD_NAMES)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def field_width(widget: QWidget) -> int:
    """One width for every field of the form, so that they line up."""
    return widget.fontMetrics().horizontalAdvance("0" * 14) + 48


class NumberEdit(QLineEdit):
    """A number typed as text; empty means unset. Up and Down step it."""

    def __init__(
        self,
        *,
        whole: bool,
        step: float,
        start: float,
        minimum: float,
        maximum: float | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._whole = whole
        self._step = step
        self._start = start
        self._minimum = minimum
        self._maximum = maximum
        self.setPlaceholderText(UNSET_TEXT)
        self.setClearButtonEnabled(True)
        self.setFixedWidth(field_width(self))

    def set_value(self, value: float | None) -> None:
        if value is None:
            self.clear()
        elif self._whole:
            self.setText(str(int(value)))
        else:
            self.setText(f"{value:g}")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and not event.modifiers():
            self._step_by(1 if key == Qt.Key.Key_Up else -1)
            return
        super().keyPressEvent(event)

    def _step_by(self, steps: int) -> None:
        text = self.text().strip()
        try:
            current = float(text.translate(_SEPARATORS) if self._whole else text.replace(",", "."))
        except ValueError:
            current = None
        value = self._start if current is None else current + steps * self._step
        value = max(value, self._minimum)
        if self._maximum is not None:
            value = min(value, self._maximum)
        self.set_value(round(value) if self._whole else round(value, 2))
        self.selectAll()


class ParamsForm(QWidget):
    """The five parameter fields, each "Model default" when left empty.

    Mnemonics: Te&mperature, &Top-p, Maximum output to&kens, Reasoning
    e&ffort, Thinking &budget (the dialogs around it use other letters).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.temperature_edit = NumberEdit(
            whole=False, step=0.1, start=1.0, minimum=0.0, maximum=2.0, parent=self
        )
        self.top_p_edit = NumberEdit(
            whole=False, step=0.05, start=1.0, minimum=0.0, maximum=1.0, parent=self
        )
        self.max_tokens_edit = NumberEdit(
            whole=True, step=1024, start=4096, minimum=1, maximum=None, parent=self
        )
        self.effort_combo = QComboBox(self)
        self.effort_combo.setFixedWidth(field_width(self))
        self.effort_combo.addItem(UNSET_TEXT, None)
        for effort in REASONING_EFFORTS:
            self.effort_combo.addItem(EFFORT_LABELS.get(effort, effort), effort)
        self.thinking_edit = NumberEdit(
            whole=True,
            step=1024,
            start=MIN_THINKING_BUDGET * 4,
            minimum=MIN_THINKING_BUDGET,
            maximum=None,
            parent=self,
        )
        self._edits: dict[str, NumberEdit] = {
            "temperature": self.temperature_edit,
            "top_p": self.top_p_edit,
            "max_output_tokens": self.max_tokens_edit,
            "thinking_budget": self.thinking_edit,
        }
        for field, edit in self._edits.items():
            edit.setObjectName(f"param_{field}")
            edit.setAccessibleName(FIELD_NAMES[field])
        self.effort_combo.setObjectName("param_reasoning_effort")
        self.effort_combo.setAccessibleName(FIELD_NAMES["reasoning_effort"])

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self._row(
            form,
            "Te&mperature:",
            self.temperature_edit,
            "0 to 2",
            "How varied the wording is: lower is more focused, higher more varied. "
            "Anthropic takes 0 to 1 (Sidestream sends at most 1 there).",
        )
        self._row(
            form,
            "&Top-p:",
            self.top_p_edit,
            "0 to 1",
            "Nucleus sampling: only the most likely words that together make up this "
            "share are considered. Usually changed instead of temperature, not with it.",
        )
        self._row(
            form,
            "Maximum output to&kens:",
            self.max_tokens_edit,
            "tokens",
            "The longest a reply may be; it stops there and Continue goes on.",
        )
        self._row(
            form,
            "Reasoning e&ffort:",
            self.effort_combo,
            "OpenAI",
            "How hard an OpenAI reasoning model thinks before it answers. Which "
            "efforts a model takes varies: Minimal from gpt-5, None from gpt-5.1, "
            "Extra high only on the newest; o-series models take Low to High.",
        )
        self._row(
            form,
            "Thinking &budget:",
            self.thinking_edit,
            f"tokens, at least {MIN_THINKING_BUDGET:,} (Anthropic)",
            "Turns on Anthropic's extended thinking with at most this many tokens of "
            "thinking. Sidestream makes room for it within the reply's length, and "
            "leaves the temperature out while thinking is on (Anthropic refuses both).",
        )
        explanation = plain_label(PARAMS_HELP, self)
        explanation.setWordWrap(True)
        explanation.setStyleSheet(style.status_stylesheet("info", self.palette()))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(explanation)

    def _row(self, form: QFormLayout, text: str, field: QWidget, unit: str, tip: str) -> None:
        label = plain_label(text, self)
        label.setBuddy(field)
        label.setToolTip(tooltip(tip))
        field.setToolTip(tooltip(tip))
        hint = plain_label(unit, self)
        hint.setStyleSheet(style.status_stylesheet("info", self.palette()))
        row = QHBoxLayout()
        row.addWidget(field)
        row.addWidget(hint)
        row.addStretch(1)
        form.addRow(label, row)

    # ------------------------------------------------------------- values
    def set_params(self, params: GenerationParams) -> None:
        """Show ``params``; an unset field shows "Model default"."""
        self.temperature_edit.set_value(params.temperature)
        self.top_p_edit.set_value(params.top_p)
        self.max_tokens_edit.set_value(params.max_output_tokens)
        self.thinking_edit.set_value(params.thinking_budget)
        index = self.effort_combo.findData(params.reasoning_effort)
        self.effort_combo.setCurrentIndex(max(0, index))

    def params(self) -> GenerationParams:
        """What the fields say, validated; ParamsInputError names the first field refused."""
        params = GenerationParams(
            temperature=self._number("temperature"),
            top_p=self._number("top_p"),
            max_output_tokens=self._whole("max_output_tokens"),
            reasoning_effort=self.effort_combo.currentData(),
            thinking_budget=self._whole("thinking_budget"),
        )
        for field in FIELD_NAMES:  # one at a time: the message names the field to fix
            try:
                replace(GenerationParams(), **{field: getattr(params, field)}).validate()
            except ValueError as exc:
                raise ParamsInputError(field, str(exc)) from exc
        return params

    def raw(self) -> tuple[str, ...]:
        """The fields as typed (to tell whether anything was edited)."""
        texts = tuple(edit.text().strip() for edit in self._edits.values())
        return (*texts, str(self.effort_combo.currentData()))

    def focus_field(self, field: str) -> None:
        """Put the keyboard focus on a field (and select what it holds)."""
        if field == "reasoning_effort":
            self.effort_combo.setFocus()
            return
        edit = self._edits[field]
        edit.setFocus()
        edit.selectAll()

    def _number(self, field: str) -> float | None:
        text = self._edits[field].text().strip()
        if not text:
            return None
        try:
            return float(text.replace(",", "."))  # a decimal comma reads as a point
        except ValueError:
            raise ParamsInputError(
                field, f"{FIELD_NAMES[field]} must be a number (got “{text}”)."
            ) from None

    def _whole(self, field: str) -> int | None:
        text = self._edits[field].text().strip()
        if not text:
            return None
        try:
            return int(text.translate(_SEPARATORS))
        except ValueError:
            raise ParamsInputError(
                field, f"{FIELD_NAMES[field]} must be a whole number of tokens (got “{text}”)."
            ) from None


def describe(params: GenerationParams) -> str:
    """The set fields in a few words ("temperature 0.7 · top-p 0.9"), for a list."""
    parts = []
    if params.temperature is not None:
        parts.append(f"temperature {params.temperature:g}")
    if params.top_p is not None:
        parts.append(f"top-p {params.top_p:g}")
    if params.max_output_tokens is not None:
        parts.append(f"at most {params.max_output_tokens:,} tokens")
    if params.reasoning_effort is not None:
        parts.append(f"reasoning {params.reasoning_effort}")
    if params.thinking_budget is not None:
        parts.append(f"thinking {params.thinking_budget:,} tokens")
    return " · ".join(parts) if parts else "Model defaults"
