"""The question asked before a link from a reply opens: where it really leads.

The site (the registrable domain) is the headline, large, so that
``bank.example.com.evil.example`` reads "evil.example" whatever its length;
a site in another script also shows its ASCII form (``xn--…``), the one a
look-alike cannot fake. The whole address follows, elided in the middle and
with invisible characters written out. A link that hides characters in its
site's name is refused, saying why, with nothing to open.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout, QWidget

from desktop.core.links import LinkCheck
from desktop.ui.plain import plain_label


class LinkDialog(QDialog):
    """Open, Copy address, or Cancel; for a refused link only Close (and Copy)."""

    def __init__(self, check: LinkCheck, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = check
        refused = check.refusal is not None
        self.setWindowTitle("Link not opened" if refused else "Open link?")
        self.headline = plain_label(parent=self)
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.detail = plain_label(parent=self)
        self.detail.setWordWrap(True)
        # A host has no spaces to wrap at: wrap anywhere, or it runs off the dialog.
        self.address = QPlainTextEdit(check.shown, self)
        self.address.setReadOnly(True)
        self.address.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.address.setAccessibleName("Full address")
        rows = 4
        self.address.setFixedHeight(
            self.address.fontMetrics().lineSpacing() * rows
            + 2 * int(self.address.document().documentMargin())
            + 2 * self.address.frameWidth()
        )
        if refused:
            self.headline.setText("This link was not opened.")
            self.detail.setText(check.refusal or "")
        else:
            self.headline.setText(f"Open a link to {check.site}?")
            self.headline.setAccessibleName(f"Site: {check.site}")
            ascii_site = bytes(QUrl.toAce(check.site).data()).decode("ascii", "replace")
            lines = []
            if ascii_site and ascii_site != check.site:
                lines.append(
                    f"The site's name is written in another script; its real name is {ascii_site}."
                )
            if check.host != check.site:
                lines.append(f"Server: {check.host}")
            self.detail.setText("\n".join(lines))
            self.detail.setVisible(bool(lines))
        buttons = QDialogButtonBox(self)
        self.copy_button = buttons.addButton(
            "&Copy address", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button = None
        if refused:
            close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
            close.setDefault(True)
        else:
            self.open_button = buttons.addButton(
                "&Open in browser", QDialogButtonBox.ButtonRole.AcceptRole
            )
            cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
            cancel.setDefault(True)  # Enter must not open a link by accident
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addWidget(plain_label("Full address:", self))
        layout.addWidget(self.address)
        layout.addWidget(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.setMinimumWidth(480)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.check.href)
