"""Help › About (versions and the device in use) and Help › Keyboard Shortcuts.

Versions are read from the installed distributions' metadata (``importlib.metadata``), never
by importing torch, diffusers or transformers: those imports take seconds and belong to the
model-manager thread. The shortcuts table is built from the window's QActions each time it
opens, so it lists exactly what the menus and panels bind.
"""

from __future__ import annotations

import platform
from importlib import metadata

import shiboken6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio import __version__

NOT_LOADED = "not loaded yet"
# (label, distribution name) of the libraries a bug report needs.
LIBRARIES = (("torch", "torch"), ("diffusers", "diffusers"), ("transformers", "transformers"),
             ("huggingface_hub", "huggingface_hub"), ("PyAV", "av"), ("NumPy", "numpy"))


def distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_rows(model_manager=None) -> list[tuple[str, str]]:
    """(component, version) rows for About, the device in use last."""
    import PySide6

    rows = [("Studio", __version__),
            ("Python", platform.python_version()),
            ("Qt", qVersion()),
            ("PySide6", PySide6.__version__)]
    rows += [(label, distribution_version(dist)) for label, dist in LIBRARIES]
    device = model_manager.loaded_device() if model_manager is not None else None
    rows.append(("Device", device or NOT_LOADED))
    rows.append(("System", f"{platform.system()} {platform.release()} ({platform.machine()})"))
    return rows


def _table(columns: list[str], parent: QWidget, name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()


class AboutDialog(QDialog):
    """Studio's icon, version and what it runs on; Copy puts the rows on the clipboard."""

    def __init__(self, parent: QWidget | None = None, model_manager=None) -> None:
        super().__init__(parent)
        self.setObjectName("AboutDialog")
        self.setWindowTitle("About Studio")
        self.rows = version_rows(model_manager)

        icon = QLabel(self)
        icon.setPixmap(QGuiApplication.windowIcon().pixmap(72, 72))
        title = QLabel(f"<b style='font-size:15pt'>Studio {__version__}</b><br>"
                       "A desktop video studio: clips, captions, generation and export "
                       "in one native app.", self)
        title.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(title, 1)

        self.table = _table(["Component", "Version"], self, "Versions")
        self.table.setObjectName("AboutVersions")
        _fill(self.table, self.rows)
        self.table.setMinimumHeight(self.table.verticalHeader().length() + 32)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("&Copy", self)
        self.copy_button.setToolTip("Copy these versions, for a bug report")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def text(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.rows)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


def _clean(text: str) -> str:
    """Menu text as a person reads it: no mnemonic ampersands (a doubled one is a real '&')."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _keys(action: QAction) -> str:
    return ", ".join(seq.toString(QKeySequence.SequenceFormat.NativeText)
                     for seq in action.shortcuts() if not seq.isEmpty())


def _key(action: QAction) -> int:
    """The C++ object's address: Python wrappers of one QAction need not be the same object,
    and a collected wrapper's id() can be reused by another."""
    return shiboken6.getCppPointer(action)[0]


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(where, command, keys) for every action of ``window`` that has a shortcut: the menu
    bar's menus in order (submenus as "View › Theme"), then actions bound only to a panel."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            sub = action.menu()
            if sub is not None:
                walk(sub, f"{where} › {_clean(sub.title())}")
            elif not action.isSeparator() and _key(action) not in seen:
                seen.add(_key(action))
                keys = _keys(action)
                if keys:
                    rows.append((where, _clean(action.text()), keys))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _clean(top.menu().title()))
    for action in window.findChildren(QAction):
        if _key(action) in seen or action.menu() is not None:
            continue
        keys = _keys(action)
        if keys and action.text():
            owner = action.parent()
            where = owner.objectName() if isinstance(owner, QWidget) and owner.objectName() else "Window"
            rows.append((where, _clean(action.text()), keys))
    return rows


class ShortcutsDialog(QDialog):
    """Help › Keyboard Shortcuts: every shortcut of the window, with a filter box."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("ShortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        self._window = window
        self.filter_box = QLineEdit(self)
        self.filter_box.setAccessibleName("Filter shortcuts")
        self.filter_box.setPlaceholderText("Filter by command or key…")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self._apply_filter)
        self.table = _table(["Menu", "Command", "Shortcut"], self, "Keyboard shortcuts")
        self.table.setObjectName("ShortcutsTable")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_box)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.refresh()
        self.resize(560, 520)

    def refresh(self) -> None:
        """Re-read the window's actions (done on every open)."""
        self.rows = shortcut_rows(self._window)
        _fill(self.table, self.rows)
        self._apply_filter(self.filter_box.text())

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r, row in enumerate(self.rows):
            self.table.setRowHidden(r, bool(needle) and not any(needle in c.lower() for c in row))

    def visible_rows(self) -> list[tuple[str, str, str]]:
        return [row for r, row in enumerate(self.rows) if not self.table.isRowHidden(r)]
