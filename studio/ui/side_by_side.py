"""A widget that shows its children side by side when the row fits, else one under another.

Its minimum width is the widest child's, so a narrow dock or panel can hold it; wider again,
the row comes back. The player's transport bar (playback above in/out points) and the
Preview's source and result players use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QWidget


class SideBySide(QWidget):
    """``widgets`` in a row, each with its ``stretches`` entry, ``spacing`` apart, when the row
    fits at their minimum widths; else stacked ``stacked_spacing`` apart, the first on top,
    the ones in ``left_when_stacked`` at their natural width on the left. Hidden widgets take
    no room."""

    def __init__(self, widgets: Sequence[QWidget], parent: QWidget | None = None, *,
                 spacing: int = 12, stacked_spacing: int = 0,
                 margins: tuple[int, int, int, int] = (0, 0, 0, 0),
                 stretches: Sequence[int] | None = None,
                 left_when_stacked: Iterable[QWidget] = ()) -> None:
        super().__init__(parent)
        self._widgets = list(widgets)
        self._spacing = spacing
        self._stacked_spacing = stacked_spacing
        self._left_when_stacked = list(left_when_stacked)
        self._box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._box.setContentsMargins(*margins)
        self._box.setSpacing(spacing)
        for widget, stretch in zip(self._widgets, stretches or [0] * len(self._widgets)):
            self._box.addWidget(widget, stretch)

    def is_stacked(self) -> bool:
        """Whether the widgets are one under another."""
        return self._box.direction() == QBoxLayout.Direction.TopToBottom

    def row_width(self) -> int:
        """The narrowest width that holds the shown widgets in a row."""
        widths = self._shown_minimum_widths()
        margins = self._box.contentsMargins()
        return (margins.left() + sum(widths) + self._spacing * max(0, len(widths) - 1)
                + margins.right())

    def minimumSizeHint(self) -> QSize:
        margins = self._box.contentsMargins()
        return QSize(margins.left() + max(self._shown_minimum_widths(), default=0)
                     + margins.right(), super().minimumSizeHint().height())

    def _shown_minimum_widths(self) -> list[int]:
        return [w.minimumSizeHint().width() for w in self._widgets if not w.isHidden()]

    def event(self, event: QEvent) -> bool:
        # A child's text, size or visibility changed (a longer clip's frame counter, a source
        # player shown): the row may no longer fit, or fit again, at the same width.
        if event.type() == QEvent.Type.LayoutRequest:
            self._fit(self.width())
        return super().event(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fit(event.size().width())
        super().resizeEvent(event)

    def _fit(self, width: int) -> None:
        stack = width < self.row_width()
        if stack == self.is_stacked():
            return
        self._box.setDirection(QBoxLayout.Direction.TopToBottom if stack
                               else QBoxLayout.Direction.LeftToRight)
        for widget in self._left_when_stacked:
            self._box.setAlignment(widget, Qt.AlignmentFlag.AlignLeft if stack
                                   else Qt.AlignmentFlag(0))
        self._box.setSpacing(self._stacked_spacing if stack else self._spacing)
        self._box.activate()  # place the widgets now, not a frame later
        self.updateGeometry()  # and ask the parent for the new height
