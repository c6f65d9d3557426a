"""Workspaces: named dock layouts for the stages of the work, as Resolve's pages or Premiere's
workspaces (issue 16): Media & Captions, Generate, Analyse, Deliver.

A tab bar in the toolbar area and View › Workspace (Ctrl+1…4) switch between them. Each
remembers its own dock arrangement (``QMainWindow.saveState``, versioned), kept in the window's
QSettings; a saved arrangement that does not restore (another version, damaged bytes) or whose
minimum size does not fit the screen gives way to that workspace's default. View › Reset Layout
puts the current workspace back to its default. The bin and the player are in every workspace.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QByteArray, QObject, QPoint, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar


def drop_stale_tab_bars(window: QMainWindow) -> None:
    """Hide the dock tab bars a ``restoreState`` left behind. Qt (6.8-6.11) makes new tab bars
    for the restored tab groups and leaves old ones shown where they were: a "Caption |
    Generate" bar stayed over the panels of a workspace with neither dock, and bars piled up
    at the bottom, over the player's buttons. The bars Qt still uses are the ones it places
    when the layout changes size: every bar is moved out of the way, the layout is given
    another width and its own back (no animation: placed now), and the bars Qt did not place
    are hidden."""
    layout = window.layout()
    rect = window.rect()  # the layout's (its geometry() reads empty)
    if rect.isEmpty() or not window.isVisible():
        return  # nothing placed yet: the first show does it
    bars = window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
    away = QPoint(-30000, -30000)
    for bar in bars:
        bar.move(away)
    options = window.dockOptions()
    window.setDockOptions(options & ~QMainWindow.DockOption.AnimatedDocks)
    layout.setGeometry(rect.adjusted(0, 0, -1, 0))
    layout.setGeometry(rect)
    window.setDockOptions(options)
    for bar in bars:
        if bar.pos() == away:
            bar.hide()


class Workspace(NamedTuple):  # a NamedTuple: dataclasses would cost start-up its import
    key: str  # in QSettings
    title: str  # tab and menu text (``&&`` is one ampersand)
    docks: tuple[str, ...]  # the docks shown, by objectName
    front: tuple[str, ...] = ()  # docks brought to the front of their tab groups
    bottom_share: float = 0.0  # the bottom docks' height, as a share of the window's
    widths: tuple[int, int] = (440, 380)  # the bin's and the right column's
    wide: str = ""  # a bottom dock given three fifths of the bottom's width


WORKSPACES = (
    Workspace("media", "Media && Captions", ("BinDock", "CaptionDock"), ("CaptionDock",)),
    Workspace("generate", "Generate",
              ("BinDock", "CaptionDock", "GenerateDock", "GenerationPreviewDock", "QueueDock"),
              ("GenerateDock", "GenerationPreviewDock", "QueueDock"), 0.4, (210, 440)),
    Workspace("analyse", "Analyse", ("BinDock", "CaptionDock", "AnalysisDock", "GenerationsDock"),
              ("CaptionDock", "AnalysisDock", "GenerationsDock"), 0.45, (300, 320),
              "AnalysisDock"),
    Workspace("deliver", "Deliver", ("BinDock", "GenerationsDock", "ExportsDock"),
              ("ExportsDock",), 0.4),
)
DEFAULT_WORKSPACE = WORKSPACES[0].key
_BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea


def workspace(key: str) -> Workspace:
    return next(w for w in WORKSPACES if w.key == key)


class Workspaces(QObject):
    """The window's workspaces: the tab bar, the View menu's actions, the saved arrangements.

    ``window`` is the ``MainWindow``: its ``base_state`` (the first start's docks, every dock
    in its place, hidden but the bin and the caption panel), ``layout_fits()`` and
    ``side_dock_widths()`` (the side docks at their first widths)."""

    changed = Signal(str)  # the key of the workspace now shown

    @property
    def window(self) -> QMainWindow:
        """The window, its parent (not kept in an attribute: a reference cycle between the
        two wrappers left the window to Python's cycle collector, which may run on a worker
        thread and delete widgets there)."""
        return self.parent()

    def __init__(self, window: QMainWindow, version: int) -> None:
        super().__init__(window)
        self.version = version
        self.current = DEFAULT_WORKSPACE
        self._states: dict[str, QByteArray] = {}  # the arrangement each workspace left
        self.tab_bar = QTabBar()
        self.tab_bar.setAccessibleName("Workspaces")
        self.tab_bar.setObjectName("WorkspaceTabs")
        self.tab_bar.setAccessibleName("Workspaces")
        self.tab_bar.setAccessibleDescription("The stage of the work; each remembers its panels")
        self.tab_bar.setDrawBase(False)
        self.tab_bar.setExpanding(False)
        self.tab_bar.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.group = QActionGroup(self)
        self.actions: dict[str, QAction] = {}
        for number, space in enumerate(WORKSPACES, start=1):
            index = self.tab_bar.addTab(space.title)
            self.tab_bar.setTabToolTip(index, f"{space.title.replace('&&', '&')} workspace "
                                              f"(Ctrl+{number})")
            action = QAction(space.title, self, checkable=True)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setChecked(space.key == self.current)
            action.triggered.connect(self._on_action)
            self.group.addAction(action)
            self.actions[space.key] = action
        self.tab_bar.currentChanged.connect(self._on_tab)

    def keys(self) -> list[str]:
        return [w.key for w in WORKSPACES]

    @Slot(int)
    def _on_tab(self, index: int) -> None:
        if 0 <= index < len(WORKSPACES):
            self.switch(WORKSPACES[index].key)

    @Slot()
    def _on_action(self) -> None:
        for key, action in self.actions.items():
            if action is self.sender():
                self.switch(key)

    def switch(self, key: str) -> None:
        """Show workspace ``key``: the one shown now keeps its arrangement for next time."""
        if key == self.current:
            self._show_current()
            return
        self._states[self.current] = self.window.saveState(self.version)
        self.current = key
        self._show_current()
        self.apply(key)
        self.changed.emit(key)

    def _show_current(self) -> None:
        index = self.keys().index(self.current)
        self.tab_bar.blockSignals(True)
        self.tab_bar.setCurrentIndex(index)
        self.tab_bar.blockSignals(False)
        self.actions[self.current].setChecked(True)

    def apply(self, key: str) -> bool:
        """Restore workspace ``key``'s saved arrangement, or its default where there is none,
        it does not restore or it does not fit the screen; whether the saved one came back."""
        state = self._states.get(key)
        if state is not None and not state.isEmpty() \
                and self.window.restoreState(state, self.version) and self.window.layout_fits():
            drop_stale_tab_bars(self.window)
            return True
        self._states.pop(key, None)
        self.apply_default(key)
        return False

    def apply_default(self, key: str | None = None) -> None:
        """Workspace ``key`` (the current one by default) as at the first start."""
        space = workspace(key or self.current)
        window = self.window
        window.restoreState(window.base_state, self.version)
        docks = {d.objectName(): d for d in window.findChildren(QDockWidget)}
        for name, dock in docks.items():
            dock.setFloating(False)
            dock.setVisible(name in space.docks)
        for name in space.front:
            docks[name].raise_()
        window.side_dock_widths(space.widths)
        bottom = [d for d in docks.values()
                  if d.isVisible() and window.dockWidgetArea(d) == _BOTTOM]
        if bottom and space.bottom_share:
            height = int(window.height() * space.bottom_share)
            window.resizeDocks(bottom, [height] * len(bottom), Qt.Orientation.Vertical)
        if space.wide in docks and len(bottom) > 1:
            width = sum(d.width() for d in bottom) * 3 // 5
            window.resizeDocks([docks[space.wide]], [width], Qt.Orientation.Horizontal)
        drop_stale_tab_bars(window)

    # -- QSettings --------------------------------------------------------------------------
    def restore(self, settings: QSettings) -> bool:
        """Read every workspace's arrangement and show the one in use when Studio closed;
        whether a saved arrangement came back."""
        for key in self.keys():
            state = settings.value(f"workspaces/{key}")
            if isinstance(state, (QByteArray, bytes)):
                self._states[key] = QByteArray(state)
        key = settings.value("workspaces/current", DEFAULT_WORKSPACE)
        self.current = key if key in self.keys() else DEFAULT_WORKSPACE
        self._show_current()
        if self.current == DEFAULT_WORKSPACE and self.current not in self._states:
            return False  # the window is in it already
        return self.apply(self.current)

    def save(self, settings: QSettings) -> None:
        self._states[self.current] = self.window.saveState(self.version)
        settings.setValue("workspaces/current", self.current)
        for key in self.keys():
            if key in self._states:
                settings.setValue(f"workspaces/{key}", self._states[key])
            else:
                settings.remove(f"workspaces/{key}")

    def forget(self, key: str) -> None:
        """Drop ``key``'s saved arrangement (Reset Layout): it opens with its default."""
        self._states.pop(key, None)
