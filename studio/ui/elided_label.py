"""A label that never widens its panel: what does not fit is elided ("…"), and the whole text
is in its tooltip.

A plain one-line ``QLabel`` asks for the width of its whole text as its minimum, so a long
file name in a status line ("Finished: <long name> · seed 42") widened its dock and with it
the main window, past the screen. ``ElidedLabel`` asks for ``min_width`` at most and paints
each line of its text elided to the width it gets.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QStyle, QWidget

MIN_WIDTH = 48  # px: a few characters and the ellipsis


class ElidedLabel(QLabel):
    """A plain-text label of one or a few lines, each elided (``mode``) to the label's width;
    while something is elided the tooltip holds the whole text (after the label's own tooltip,
    if it has one)."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
                 min_width: int = MIN_WIDTH) -> None:
        super().__init__(parent)
        self._mode = mode
        self._min_width = min_width
        self._own_tip = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    # -- text and tooltip -----------------------------------------------------------------
    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tip()

    def setToolTip(self, tip: str) -> None:
        self._own_tip = tip
        self._update_tip()

    def is_elided(self) -> bool:
        """Whether a line of the text is wider than the label shows."""
        width = self.contentsRect().width()
        metrics = self.fontMetrics()
        return any(metrics.horizontalAdvance(line) > width for line in self.text().split("\n"))

    def shown_lines(self) -> list[str]:
        """The lines as painted, elided to the label's width."""
        width = self.contentsRect().width()
        metrics = self.fontMetrics()
        return [metrics.elidedText(line, self._mode, width) for line in self.text().split("\n")]

    def _update_tip(self) -> None:
        tip = self._own_tip
        if self.text() and self.is_elided():
            tip = f"{tip}\n{self.text()}" if tip and tip != self.text() else self.text()
        super().setToolTip(tip)

    # -- size and painting ----------------------------------------------------------------
    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self._min_width), hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.is_elided():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        rect = self.contentsRect()
        align = QStyle.visualAlignment(self.layoutDirection(), self.alignment())
        self.style().drawItemText(painter, rect, int(align), self.palette(), self.isEnabled(),
                                  "\n".join(self.shown_lines()), self.foregroundRole())
        painter.end()


_BREAK_AFTER = re.compile(r"([_./\\-])(?=\S)")
_LONG_WORD = re.compile(r"\S{25,}")


def breakable(text: str) -> str:
    """``text`` with a zero-width space after each ``_ . / \\ -`` of its long words (file names,
    paths), so a word-wrapped label can break them rather than ask for their whole width."""
    return _LONG_WORD.sub(lambda word: _BREAK_AFTER.sub("\\1\u200b", word.group()), text)


class VerticalScrollArea(QScrollArea):
    """Scrolls a tall panel: as short as ``min_height``, and as narrow as its contents'
    minimum (plus the scroll bar) up to ``max_min_width``; squeezed narrower than its form
    (a dock beside many others on a small screen), it scrolls sideways too. A tall panel in a
    dock then never makes the window taller or wider than a small screen."""

    def __init__(self, contents: QWidget, parent: QWidget | None = None, *,
                 min_height: int = 80, max_min_width: int = 300) -> None:
        super().__init__(parent)
        self._min_height = min_height
        self._max_min_width = max_min_width
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(contents)

    def minimumSizeHint(self) -> QSize:
        inner = self.widget().minimumSizeHint() if self.widget() is not None else QSize()
        bar = self.verticalScrollBar().sizeHint().width()
        margins = self.contentsMargins()
        return QSize(min(self._max_min_width, inner.width() + bar + margins.left() + margins.right()),
                     self._min_height)


class FittingTextLabel(QLabel):
    """A label with several wordings of one text (``set_texts``, longest first, as the
    player's in/out marks): it shows the first that fits and asks for the width of the last,
    the shortest; given less, it shows that one elided, right-aligned."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._texts: list[str] = []

    def set_texts(self, texts: list[str]) -> None:
        self._texts = [t for t in texts if t]
        self.setText(self._texts[0] if self._texts else "")

    def shown_text(self) -> str:
        metrics = self.fontMetrics()
        for text in self._texts:
            if metrics.horizontalAdvance(text) <= self.width():
                return text
        last = self._texts[-1] if self._texts else ""
        return metrics.elidedText(last, Qt.TextElideMode.ElideRight, self.width())

    def minimumSizeHint(self) -> QSize:
        shortest = self._texts[-1] if self._texts else ""
        return QSize(self.fontMetrics().horizontalAdvance(shortest) + 4 if shortest else 0,
                     super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self.text()) + 4,
                     super().sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight),
                   self.shown_text())
        p.end()
