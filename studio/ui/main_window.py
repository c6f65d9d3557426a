"""The main window: the player in the middle, the bin docked on one side and the captions on
the other, menus, status bar.

Later panels (prompt, preview, queue) join as docks. Window geometry, dock layout and
the bin's columns are kept in QSettings (an INI file under the user config folder).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QSettings, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

from studio.core.library import Clip, Project
from studio.settings import ui_settings_path
from studio.ui.bin_panel import BinPanel
from studio.ui.caption_panel import CaptionPanel
from studio.ui.edits import SetInOutCommand
from studio.ui.elided_label import ElidedLabel
from studio.ui.file_drops import FileDropTarget
from studio.ui.player import PlayerPanel
from studio.ui.project_model import ProjectModel
from studio.ui.theme import ThemeMenu, app_icon, theme_manager
from studio.ui.workspaces import Workspaces, drop_stale_tab_bars

SETTINGS_VERSION = 4  # bump when docks or bin columns change, so old layouts are not restored
DEFAULT_SIZE = QSize(1280, 800)  # the window's size at first start and after Reset Layout
DEFAULT_DOCK_WIDTHS = (440, 380)  # the bin's and the caption panel's


def available_geometry(widget) -> QRect:
    """The part of ``widget``'s screen a window may take (without panels and docks of the
    desktop); an empty rectangle when there is no screen."""
    screen = widget.screen()
    return screen.availableGeometry() if screen is not None else QRect()


class MainWindow(FileDropTarget, QMainWindow):
    files_opened = Signal()  # open_files is done: imported, first file selected, status shown

    def __init__(self, project: Project, parent=None, model_manager=None):
        """``model_manager``: a ``ModelManager`` to use (the window then shuts it down too);
        None makes one. Its thread starts now; torch loads there on the first job."""
        super().__init__(parent)
        self.project = project
        # The panels' one writer and the one source of their change signals: the window wires
        # each panel to it, not panels to each other.
        self.project_model = ProjectModel(project, self)
        self._shut_down = False
        self._export_dialog = None
        self._clip_export_dialog = None
        self._open_first: str | None = None  # open_files: the path to select after importing
        self._open_missing: list[str] = []
        self._shortcuts_dialog = None
        self._analysis = None  # the analysis panel, built on first use (``analysis``)
        self._selected_clip: Clip | None = None
        self._export_queue = None  # built on first use (``export_queue``)
        self._restored_state = False  # a saved dock layout was restored (see showEvent)
        self._shown_once = False
        self.setObjectName("MainWindow")
        self.setWindowIcon(app_icon())
        self.theme = theme_manager()
        self.setWindowTitle(f"Studio — {project.root.name}")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)

        self.player = PlayerPanel(self)
        self.setCentralWidget(self.player)
        self.player.in_out_changed.connect(self._on_in_out_changed)

        self.undo_stack = QUndoStack(self)
        self.bin = BinPanel(self.project_model, self, undo_stack=self.undo_stack)
        self.bin_dock = QDockWidget("Bin", self)
        self.bin_dock.setObjectName("BinDock")
        self.bin_dock.setWidget(self.bin)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.bin_dock)
        self.resizeDocks([self.bin_dock], [DEFAULT_DOCK_WIDTHS[0]], Qt.Orientation.Horizontal)
        self.bin.clip_selected.connect(self.project_model.set_current_clip)
        self.project_model.current_clip_changed.connect(self._on_clip_selected)
        self.project_model.clips_changed.connect(self._on_clips_changed)
        self.bin.status_message.connect(self._on_status_message)
        self.bin.import_finished.connect(self._on_open_files_imported)

        if model_manager is None:
            from studio.ui.model_manager import ModelManager

            model_manager = ModelManager()
        self.model_manager = model_manager
        self.captions = CaptionPanel(self.project_model, self, undo_stack=self.undo_stack)
        self.captions.set_manager(model_manager)
        self._run_on = self._cluster = None  # made on first use (cluster_parts)
        self.captions.set_cluster(self.cluster_parts)
        self.caption_dock = QDockWidget("Caption", self)
        self.caption_dock.setObjectName("CaptionDock")
        self.caption_dock.setWidget(self.captions)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.caption_dock)
        self.resizeDocks([self.caption_dock], [DEFAULT_DOCK_WIDTHS[1]], Qt.Orientation.Horizontal)
        self.project_model.current_clip_changed.connect(self.captions.show_clip)
        self.captions.status_message.connect(self._on_status_message)
        self.captions.frame_clicked.connect(self._on_caption_frame_clicked)
        self._build_analysis()
        self._build_generation()

        self._status_project = ElidedLabel(str(project.root), min_width=120)
        self._status_project.setStyleSheet("color: palette(mid);")
        self.statusBar().addPermanentWidget(self._status_project)
        self._show_read_only()
        self._build_exports()

        self.workspaces = Workspaces(self, SETTINGS_VERSION)
        self._build_menus()
        self._build_toolbar()
        self._lay_out_docks()
        self._restore_layout()
        # Start with the clip list focused, not the filter box: Space and arrows then drive the
        # player instead of typing into the filter.
        self.bin.view.setFocus()
        # Files dropped anywhere the panels do not take them themselves (the player, the
        # caption panel, the toolbar) are opened as `studio FILE...` opens them.
        self.setAcceptDrops(True)

    def _lay_out_docks(self) -> None:
        """The first layout: the window's size, the side docks' widths, shown docks in front
        of their tab groups; kept as the default (View > Reset Layout, a saved layout too big
        for the screen)."""
        for dock in (self.caption_dock, self.generate_dock, self.analysis_dock,
                     self.generation_preview_dock, self.generations_dock, self.queue_dock,
                     self.exports_dock):  # shown from a menu or the toolbar: its tab in front
            dock.toggleViewAction().triggered.connect(
                lambda checked, d=dock: d.raise_() if checked else None)
        for action in (self.captions.caption_action, self.captions.caption_all_action):
            action.triggered.connect(self.caption_dock.raise_)  # the running caption in view
        self.resize(DEFAULT_SIZE)
        # the side docks' widths, set once every dock is in place (tabifying the hidden
        # bottom docks had set them back to their minimums)
        self.side_dock_widths()
        # Every dock in its place, the bin and the caption panel shown: the Media & Captions
        # workspace, and where each workspace's default starts from (View > Reset Layout, a
        # saved layout too big for the screen).
        self.base_state = self.saveState(SETTINGS_VERSION)

    def side_dock_widths(self, widths: tuple[int, int] = DEFAULT_DOCK_WIDTHS) -> None:
        """The bin and the right column (the caption or the Generate panel) at ``widths``."""
        right = next((d for d in (self.caption_dock, self.generate_dock) if not d.isHidden()),
                     None)
        docks = [d for d in (self.bin_dock, right) if d is not None and not d.isHidden()]
        widths = [widths[0] if d is self.bin_dock else widths[1] for d in docks]
        if docks:
            self.resizeDocks(docks, widths, Qt.Orientation.Horizontal)

    def _show_read_only(self) -> None:
        """A project open read-only says so: in the title, and in a status-bar label saying
        why (what ``Project.read_only_reason`` says) for as long as the window is open."""
        self._status_read_only = None
        if not getattr(self.project, "read_only", False):
            return
        self.setWindowTitle(f"{self.windowTitle()} (read-only)")
        why = self.project.read_only_reason
        self._status_read_only = QLabel(f"Read-only: {why.split(' (')[0]}")
        self._status_read_only.setToolTip(f"{self.project.root} is open read-only: {why}. "
                                          "Nothing in it can be changed; make a copy to work on it.")
        self.statusBar().addPermanentWidget(self._status_read_only)

    # -- menus ----------------------------------------------------------------------------
    def _build_menus(self) -> None:
        """The menu bar, a menu at a time, in the order it shows them."""
        self._build_file_menu()
        self._build_edit_menu()
        self._build_playback_menu()
        self._build_caption_menu()
        self._build_view_menu()
        self._build_generate_menu()
        self._build_help_menu()

    def _build_file_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.import_files_action = QAction("&Import Files…", self)
        self.import_files_action.setShortcut(QKeySequence("Ctrl+I"))
        self.import_files_action.triggered.connect(self.import_files_dialog)
        file_menu.addAction(self.import_files_action)
        self.import_folder_action = QAction("Import &Folder…", self)
        self.import_folder_action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        self.import_folder_action.triggered.connect(self.import_folder_dialog)
        file_menu.addAction(self.import_folder_action)
        file_menu.addSeparator()
        self.export_action = QAction("&Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setToolTip("Export the selected clips (MP4, WebM, GIF, PNG, "
                                      "training sets) in the background")
        self.export_action.triggered.connect(self.export_clips_dialog)
        file_menu.addAction(self.export_action)
        self.project_model.selection_changed.connect(self._update_export_action)
        self._update_export_action()
        self.export_dataset_action = QAction("Export &Training Set…", self)
        self.export_dataset_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.export_dataset_action.triggered.connect(self.export_training_set_dialog)
        file_menu.addAction(self.export_dataset_action)
        self._update_export_action()
        for signal in (self.project_model.clips_added, self.project_model.clips_restored,
                       self.project_model.clips_removed):  # off with an empty bin
            signal.connect(self._update_export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.bin.remove_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def _build_edit_menu(self) -> None:
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)

    def _build_playback_menu(self) -> None:
        playback = self.menuBar().addMenu("&Playback")
        for action in self.player.actions():
            playback.addAction(action)

    def _build_caption_menu(self) -> None:
        """The caption panel's actions, then Export Training Set (made by the File menu)."""
        caption_menu = self.menuBar().addMenu("&Caption")
        for action in (self.captions.caption_action, self.captions.caption_all_action,
                       self.captions.cancel_action, None, self.captions.save_action,
                       self.captions.revert_action):
            if action is None:
                caption_menu.addSeparator()
            else:
                caption_menu.addAction(action)
        caption_menu.addSeparator()
        caption_menu.addAction(self.export_dataset_action)

    def _build_view_menu(self) -> None:
        view_menu = self.menuBar().addMenu("&View")
        self._view_menu = view_menu
        workspace_menu = view_menu.addMenu("&Workspace")
        for action in self.workspaces.actions.values():
            workspace_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.bin_dock.toggleViewAction())
        view_menu.addAction(self.caption_dock.toggleViewAction())
        view_menu.addAction(self.analysis_dock.toggleViewAction())
        view_menu.addAction(self.analyse_action)
        view_menu.addAction(self.exports_dock.toggleViewAction())
        view_menu.addSeparator()
        self.reset_layout_action = QAction("&Reset Layout", self)
        self.reset_layout_action.setToolTip("Put the current workspace's panels back where they "
                                            "were at the first start, and the window at its "
                                            "first size")
        self.reset_layout_action.triggered.connect(self.reset_layout)
        view_menu.addAction(self.reset_layout_action)
        view_menu.addSeparator()
        self.theme_menu = ThemeMenu(self.theme, self)
        view_menu.addMenu(self.theme_menu)

    def _build_generate_menu(self) -> None:
        generate_menu = self.menuBar().addMenu("&Generate")
        generate_menu.addAction(self.generate_dock.toggleViewAction())
        generate_menu.addAction(self.generation_preview_dock.toggleViewAction())
        generate_menu.addAction(self.generations_dock.toggleViewAction())
        generate_menu.addAction(self.queue_dock.toggleViewAction())

    def _build_help_menu(self) -> None:
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = QAction("&Keyboard Shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence("Ctrl+/"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        self.open_log_action = QAction("Open &Log Folder", self)
        self.open_log_action.setToolTip("The folder of Studio's log: what went wrong, and each "
                                        "job with its timings")
        self.open_log_action.triggered.connect(self.open_log_folder)
        help_menu.addAction(self.open_log_action)
        help_menu.addSeparator()
        self.about_action = QAction("&About Studio", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        """The main toolbar (Import, Caption, Generate, Export, Analyse): the menus' own
        actions, with the line icons of studio.ui.icons tinted for the theme (re-tinted when
        it changes). Its objectName lets saveState/restoreState keep where it is."""
        from studio.ui.icons import ActionIcons

        self.action_icons = ActionIcons(self, self.theme)
        for action, name in (
                (self.import_files_action, "import"), (self.import_folder_action, "import-folder"),
                (self.export_action, "export"), (self.export_dataset_action, "dataset"),
                (self.bin.remove_action, "remove"), (self.undo_action, "undo"),
                (self.redo_action, "redo"), (self.captions.caption_action, "caption"),
                (self.captions.cancel_action, "cancel"), (self.captions.save_action, "save"),
                (self.generate_dock.toggleViewAction(), "generate"),
                (self.analyse_action, "analyse")):
            self.action_icons.set(action, name)
        self.main_toolbar = self.addToolBar("Main Toolbar")
        self.main_toolbar.setObjectName("MainToolBar")
        self.main_toolbar.setIconSize(QSize(20, 20))
        self.main_toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action, label in ((self.import_files_action, "Import"),
                              (self.captions.caption_action, "Caption"),
                              (self.generate_dock.toggleViewAction(), "Generate"),
                              (self.export_action, "Export"),
                              (self.analyse_action, "Analyse")):
            action.setIconText(label)  # the button's label; menus keep the full text
            self.main_toolbar.addAction(action)
        self._view_menu.addAction(self.main_toolbar.toggleViewAction())
        # the workspaces' tabs, on the toolbar's row
        self.workspace_toolbar = self.addToolBar("Workspaces")
        self.workspace_toolbar.setObjectName("WorkspaceToolBar")
        self.workspace_toolbar.addWidget(self.workspaces.tab_bar)

    @Slot()
    def import_files_dialog(self) -> None:
        # Imported here: building its Python type slows start-up.
        from PySide6.QtWidgets import QFileDialog

        paths, _ = QFileDialog.getOpenFileNames(self, "Import media files")
        self.bin.import_paths(paths)

    @Slot()
    def import_folder_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Import a folder of media (recursively)")
        if folder:
            self.bin.import_paths([folder])

    # -- export -----------------------------------------------------------------------------
    def _build_exports(self) -> None:
        """The Exports dock, hidden until the first export. The background queue, the dock's
        panel and the status-bar summary are built on first use (``export_queue``)."""
        self.exports_dock = QDockWidget("Exports", self)
        self.exports_dock.setObjectName("ExportsDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.exports_dock)
        self.tabifyDockWidget(self.queue_dock, self.exports_dock)  # a tab of the lists
        self.exports_dock.hide()
        self.exports_dock.visibilityChanged.connect(self._on_exports_visibility)

    @property
    def export_queue(self):
        """The background ``ExportQueue``; made, with its panel and status, on first use."""
        if self._export_queue is None:
            from studio.ui.export_queue import (
                ExportQueue,
                ExportQueuePanel,
                ExportStatusWidget,
            )

            queue = self._export_queue = ExportQueue(self)
            self.exports_dock.setWidget(ExportQueuePanel(queue, self.exports_dock))
            self.export_status = ExportStatusWidget(queue, self)
            self.export_status.clicked.connect(self.show_exports)
            self.statusBar().addPermanentWidget(self.export_status)
            queue.job_finished.connect(self._on_export_finished)
        return self._export_queue

    @Slot(bool)
    def _on_exports_visibility(self, visible: bool) -> None:
        if visible:
            self.export_queue  # noqa: B018 -- builds the panel

    @Slot()
    def _update_export_action(self, *_args) -> None:
        """File › Export… needs selected clips; Export Training Set… clips in the bin."""
        self.export_action.setEnabled(bool(self.project_model.selected_clips()))
        dataset = getattr(self, "export_dataset_action", None)
        if dataset is not None:
            dataset.setEnabled(bool(self.project_model.clips()))

    @Slot()
    def export_clips_dialog(self):
        """File > Export… for the selected clips (one dialog at a time); returns it."""
        from studio.ui.export_dialog import ExportDialog, sources_for_clips

        dialog = self._clip_export_dialog
        if dialog is not None and dialog.isVisible():
            dialog.raise_()
            dialog.activateWindow()
            return dialog
        clips = self.project_model.selected_clips()
        if not clips:
            self.statusBar().showMessage("Select the clips to export first.", 8000)
            return None
        if dialog is not None:  # an earlier, closed one
            dialog.shutdown()
            dialog.deleteLater()
        # The captions are the project's saved ones: an export never depends on the editor
        # (its unsaved text stays there, as a draft, until it is saved or reverted).
        dialog = ExportDialog(sources_for_clips(self.project, [c.id for c in clips]),
                              self.export_queue, self, default_folder=self.project.exports_dir)
        dialog.export_queued.connect(self._on_export_queued)
        self._clip_export_dialog = dialog
        dialog.show()
        return dialog

    @Slot(object)
    def _on_export_queued(self, job) -> None:
        self.show_exports()

    @Slot()
    def show_exports(self) -> None:
        if not self.exports_dock.isVisible() and not self.exports_dock.isFloating():
            self.exports_dock.show()
            self.resizeDocks([self.exports_dock], [190], Qt.Orientation.Vertical)
        self.exports_dock.show()
        self.exports_dock.raise_()

    @Slot(object)
    def _on_export_finished(self, job) -> None:
        self.statusBar().showMessage(f"Export {job.title}: {job.summary()}", 10000)

    @Slot()
    def export_training_set_dialog(self):
        """Open File > Export Training Set… (one dialog at a time); returns it."""
        from studio.ui.dataset_dialog import DatasetExportDialog

        if self._export_dialog is not None and self._export_dialog.isVisible():
            self._export_dialog.raise_()
            self._export_dialog.activateWindow()
            return self._export_dialog
        s = self.settings()
        dialog = DatasetExportDialog(self.project,
                                     [c.id for c in self.project_model.selected_clips()],
                                     self, folder=s.value("dataset/folder") or None,
                                     layout=s.value("dataset/layout") or "diffusion-pipe")
        dialog.export_finished.connect(self._on_dataset_exported)
        self._export_dialog = dialog
        dialog.show()
        return dialog

    @Slot(object)
    def _on_dataset_exported(self, report) -> None:
        dialog = self._export_dialog
        if report is not None:
            self.statusBar().showMessage(report.summary(), 10000)
        if dialog is not None:
            s = self.settings()
            s.setValue("dataset/folder", dialog.folder_edit.text())
            s.setValue("dataset/layout", dialog.layout_key)

    @Slot()
    def open_log_folder(self) -> bool:
        """Help › Open Log Folder, in the desktop's file manager; whether it opened (if not,
        the status bar names the folder)."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from studio import logs

        folder = logs.log_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the file manager, or the status line, says what is there
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        if not opened:
            self.statusBar().showMessage(f"Studio's log folder: {folder}", 15000)
        return opened

    @Slot()
    def show_about(self):
        """Help > About: versions and the device in use; returns the (modal) dialog, shown."""
        from studio.ui.help_dialogs import AboutDialog

        dialog = AboutDialog(self, self.model_manager)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    @Slot()
    def show_shortcuts(self):
        """Help > Keyboard Shortcuts, read afresh from the window's actions; returns the dialog."""
        from studio.ui.help_dialogs import ShortcutsDialog

        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(self)
        else:
            self._shortcuts_dialog.refresh()
        self._shortcuts_dialog.show()
        self._shortcuts_dialog.raise_()
        return self._shortcuts_dialog

    # -- files from the command line or a file manager ------------------------------------
    def open_files(self, paths: list[str]) -> None:
        """Import ``paths`` (files or folders, as ``studio FILE...`` passes them) and select
        the first (of a folder: its first clip that plays). A file that is not media gets a
        marked row saying why, as a drop does; a path that does not exist is named in the
        status bar. Emits ``files_opened`` when done."""
        present = [str(p) for p in paths if Path(p).exists()]
        self._open_missing = [str(p) for p in paths if not Path(p).exists()]
        if not present:  # report from the event loop, like an import's end
            self._open_first = None
            QTimer.singleShot(0, self._report_nothing_opened)
            return
        self._open_first = present[0]
        self.bin.import_paths(present)

    @Slot()
    def _on_open_files_imported(self) -> None:
        if self._open_first is None or self.bin.importing:
            return
        first, self._open_first = Path(self._open_first).resolve(), None
        imported = self.statusBar().currentMessage()  # the bin's "Imported n new of m…"
        clip = None
        if first.is_dir():  # its first clip in scan order that plays, else its first file
            inside = [c for c in self.project_model.clips()
                      if Path(c.path).is_relative_to(first)]
            clip = min(inside, key=lambda c: (not c.ok, Path(c.path).parts), default=None)
        else:
            clip = self.project.clip_for_path(first)
        parts = [imported]
        if clip is not None:
            self.bin.select_clip(clip.id)  # an unusable file's row is selected: it says why
            if not clip.ok:
                parts.append(clip.error or f"{clip.path} is missing")
        self._report_opened(parts)

    @Slot()
    def _report_nothing_opened(self) -> None:
        self._report_opened([])

    def _report_opened(self, parts: list[str]) -> None:
        if self._open_missing:
            parts.append("not found: " + ", ".join(self._open_missing))
            self._open_missing = []
        text = "; ".join(p for p in parts if p)
        if text:
            self.statusBar().showMessage(text[0].upper() + text[1:], 15000)
        self.files_opened.emit()

    # -- analysis -------------------------------------------------------------------------
    def _build_analysis(self) -> None:
        """The analysis dock under the player, hidden until View > Analysis (or Analyse
        Clip) shows it. Its plots follow the player and seek it. The dock and its actions
        exist from the start (the View menu, the shortcuts, a saved layout); the panel inside
        is built when first shown or used (``analysis``), which keeps it off start-up."""
        self.analyse_action = QAction("Analyse Clip", self)  # the panel's, once it exists
        self.analyse_action.setShortcut(QKeySequence("Ctrl+Alt+A"))
        self.analyse_action.setEnabled(False)
        self.analyse_action.triggered.connect(self._on_analyse_triggered)
        self.analysis_dock = QDockWidget("Analysis", self)
        self.analysis_dock.setObjectName("AnalysisDock")
        # The side docks keep the bottom corners: the analysis sits under the player only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.analysis_dock)
        self.analysis_dock.hide()
        self.analysis_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.analysis_dock.visibilityChanged.connect(self._on_analysis_visibility)

    def _build_generation(self) -> None:
        """The Generate dock (prompt panel) and the Preview dock (progress, preview, result),
        hidden until Generate > Prompt Panel shows them; their panels are built when first
        shown (``prompt_panel``, ``preview_panel``), which keeps core.params off start-up."""
        self._prompt_panel = None
        self._preview_panel = None
        self._preview_dock_sized = False  # see _on_generation_run_started
        self.generate_dock = QDockWidget("Generate", self)
        self.generate_dock.setObjectName("GenerateDock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.generate_dock)
        self.generate_dock.hide()
        self.generate_dock.toggleViewAction().setText("Prompt Panel")
        self.generate_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+G"))
        self.generate_dock.visibilityChanged.connect(self._on_generation_visibility)
        # a tab beside the Caption panel: each gets the right column's whole height (below
        # the caption panel it had a sliver of it, and the two scrolled)
        self.tabifyDockWidget(self.caption_dock, self.generate_dock)
        self.generation_preview_dock = QDockWidget("Preview", self)
        self.generation_preview_dock.setObjectName("GenerationPreviewDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.generation_preview_dock)
        # Under the player the docks make two tab groups (the Preview with the Analysis, the
        # lists: Generations, Queue, Exports), not a row of five: side by side their minimum
        # widths added up to a window wider than the screen.
        self.tabifyDockWidget(self.analysis_dock, self.generation_preview_dock)
        self.generation_preview_dock.hide()
        self.generation_preview_dock.toggleViewAction().setText("Generation Preview")
        self.generation_preview_dock.visibilityChanged.connect(self._on_generation_visibility)
        # The generations list: its panel is built when first shown or when a generation
        # finishes (it then analyses the new video in the background).
        self._generations_panel = None
        self.generations_dock = QDockWidget("Generations", self)
        self.generations_dock.setObjectName("GenerationsDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.generations_dock)
        self.generations_dock.hide()
        self.generations_dock.toggleViewAction().setText("Generations")
        self.generations_dock.visibilityChanged.connect(self._on_generations_visibility)
        self.project_model.generation_added.connect(self._on_generation_added)
        # The generation queue (the project's jobs table) and its dock: both built on first
        # use, or just after start-up when an earlier session left jobs in the queue.
        self._generation_queue = None
        self._queue_panel = None
        self.queue_dock = QDockWidget("Queue", self)
        self.queue_dock.setObjectName("QueueDock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        # a tab beside the Generations list: both lists want the bottom's whole width
        self.tabifyDockWidget(self.generations_dock, self.queue_dock)
        self.queue_dock.hide()
        self.queue_dock.toggleViewAction().setText("Queue")
        self.queue_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+Q"))
        self.queue_dock.visibilityChanged.connect(self._on_queue_visibility)
        QTimer.singleShot(0, self, self._restore_generation_queue)

    @property
    def prompt_panel(self):
        """The ``PromptPanel`` of the Generate dock (with the preview panel), built on first use."""
        if self._prompt_panel is None:
            from studio.ui.preview_panel import PreviewPanel
            from studio.ui.prompt_panel import PromptPanel

            self._preview_panel = PreviewPanel(self.generation_preview_dock,
                                               project=self.project)
            self.generation_preview_dock.setWidget(self._preview_panel)
            self._preview_panel.follow_queue(self.generation_queue)
            panel = PromptPanel(self.project_model, self.generate_dock,
                                queue=self.generation_queue,
                                player=self.player,
                                clip_source=self.project_model.selected_clips)
            self._prompt_panel = panel
            self.generate_dock.setWidget(panel)
            panel.job_submitted.connect(self._on_generation_submitted)
            panel.status_message.connect(self._on_status_message)
            self._preview_panel.restore_requested.connect(panel.restore)
            # "Selected clip" follows
            self.project_model.current_clip_changed.connect(panel.refresh_sources)
        return self._prompt_panel

    @property
    def generations_panel(self):
        """The ``GenerationsPanel`` of the Generations dock, built on first use."""
        if self._generations_panel is None:
            from studio.ui.generations_panel import GenerationsPanel

            panel = GenerationsPanel(self.project_model, self.generations_dock,
                                     export_queue=lambda: self.export_queue)
            panel.play_requested.connect(self._on_play_generation)
            panel.analyse_requested.connect(self._on_analyse_generation)
            panel.restore_requested.connect(self._on_restore_generation)
            panel.add_to_bin_requested.connect(self._on_add_generation_to_bin)
            panel.status_message.connect(self._on_status_message)
            self.generations_dock.setWidget(panel)
            self._generations_panel = panel
        return self._generations_panel

    @Slot(bool)
    def _on_generations_visibility(self, visible: bool) -> None:
        if visible and self._generations_panel is None:
            self.generations_panel  # noqa: B018 -- builds the panel
            if not self.generations_dock.isFloating():  # room for a few rows
                self.resizeDocks([self.generations_dock], [260], Qt.Orientation.Vertical)

    @Slot(object)
    def _on_generation_added(self, _generation) -> None:
        if self._generations_panel is None:
            self.generations_panel  # noqa: B018 -- built now, it lists and analyses the new one

    @Slot(str, int, float)
    def _on_play_generation(self, path: str, frames: int, fps: float) -> None:
        self.player.set_clip(None, path, frames, fps)
        self.player.play()

    @Slot(object)
    def _on_analyse_generation(self, generation) -> None:
        """Generations > Analyse: the generation in the player and the analysis panel."""
        panel = self.analysis
        panel.show_generation(generation)
        self.player.set_clip(None, generation.path, panel.subject.frame_count, panel.subject.fps)
        panel.analyse()
        self.show_analysis()

    @Slot(str)
    def _on_add_generation_to_bin(self, path: str) -> None:
        self.bin_dock.show()
        self.open_files([path])  # imported (once) and selected, as a dropped file

    @Slot(object)
    def _on_restore_generation(self, params) -> None:
        self.generate_dock.show()
        self.generate_dock.raise_()
        self.prompt_panel.restore(params)

    @property
    def preview_panel(self):
        self.prompt_panel  # noqa: B018 -- builds both
        return self._preview_panel

    @Slot(bool)
    def _on_generation_visibility(self, visible: bool) -> None:
        if visible:
            self.prompt_panel  # noqa: B018 -- builds the panels

    @property
    def generation_queue(self):
        """The ``GenerationQueue`` over the project's jobs table; made on first use (which
        marks jobs a dead Studio left running as interrupted)."""
        if self._generation_queue is None:
            from studio.ui.generation_queue import GenerationQueue

            queue = self._generation_queue = GenerationQueue(self.project_model,
                                                             self.model_manager, self)
            queue.set_cluster(self.cluster_parts)
            queue.run_started.connect(self._on_generation_run_started)
            queue.status_message.connect(self._on_status_message)
            from studio.ui.queue_panel import QueueStatusWidget

            self.queue_status = QueueStatusWidget(queue, self)
            self.queue_status.clicked.connect(self.show_queue)
            self.statusBar().addPermanentWidget(self.queue_status)
        return self._generation_queue

    def cluster_parts(self):
        """(``run_on.RunOnChoice``, ``cluster_manager.ClusterManager``): where captions and
        generations run, one choice for the window; made on first use (no Ray is imported
        until a run on the cluster starts)."""
        if self._run_on is None:
            from studio.ui.cluster_manager import ClusterManager
            from studio.ui.run_on import RunOnChoice

            self._run_on = RunOnChoice(self.settings, self)
            self._cluster = ClusterManager(self._cluster_address, self)
            self._cluster.status_message.connect(self._on_status_message)
        return self._run_on, self._cluster

    def _cluster_address(self) -> str:
        return self._run_on.address

    @Slot()
    def show_queue(self) -> None:
        self.queue_dock.show()
        self.queue_dock.raise_()

    @property
    def queue_panel(self):
        """The ``QueuePanel`` of the Queue dock, built on first use."""
        if self._queue_panel is None:
            from studio.ui.queue_panel import QueuePanel

            panel = self._queue_panel = QueuePanel(self.generation_queue, self.queue_dock)
            panel.add_run_on(self.cluster_parts()[0])
            panel.edit_requested.connect(self._on_edit_queued_job)
            panel.status_message.connect(self._on_status_message)
            self.queue_dock.setWidget(panel)
        return self._queue_panel

    @Slot(bool)
    def _on_queue_visibility(self, visible: bool) -> None:
        if visible and self._queue_panel is None:
            self.queue_panel  # noqa: B018 -- builds the panel
            if not self.queue_dock.isFloating():  # room for a few rows
                self.resizeDocks([self.queue_dock], [240], Qt.Orientation.Vertical)

    @Slot()
    def _restore_generation_queue(self) -> None:
        """After start-up: jobs an earlier session left queued or running come back in the
        Queue dock (paused, interrupted) rather than waiting unseen."""
        if self._shut_down or self.project.closed \
                or not self.project.jobs(states=("queued", "running")):
            return
        queue = self.generation_queue  # made now, unless a panel made it already
        if not queue.left_waiting and not queue.interrupted:
            return  # nothing was left from an earlier session
        waiting = len(queue.left_waiting)
        self.queue_dock.show()
        jobs = f"{waiting} job{'s' if waiting != 1 else ''}"
        parts = [f"{jobs} waiting (paused: Resume in the Queue dock)"] if waiting else []
        if queue.interrupted:
            parts.append(f"{len(queue.interrupted)} interrupted when Studio stopped "
                         "(Retry in the Queue dock)")
        self._on_status_message("Generation queue: " + "; ".join(parts))

    @Slot(int)
    def _on_edit_queued_job(self, queue_id: int) -> None:
        self.generate_dock.show()
        self.generate_dock.raise_()
        self.prompt_panel.edit_job(queue_id)

    @Slot(int, object)
    def _on_generation_submitted(self, _queue_id: int, _params) -> None:
        if self.generation_queue.waiting() > 1:  # it waits behind another: show the queue
            self.queue_dock.show()

    @Slot(int, object)
    def _on_generation_run_started(self, job_id: int, params) -> None:
        queue = self.generation_queue
        self.preview_panel.track(job_id, params, queue.handle)
        if self.generation_preview_dock.isHidden() and not self._preview_dock_sized:
            # Shown for the first time it takes its size hint (about 550 px), which left the
            # player 170 px at 1280x800: give it two fifths of the height instead.
            self._preview_dock_sized = True
            self.generation_preview_dock.show()
            self.resizeDocks([self.generation_preview_dock], [self.height() * 2 // 5],
                             Qt.Orientation.Vertical)
        self.generation_preview_dock.show()
        self.generation_preview_dock.raise_()

    @property
    def analysis(self):
        """The ``AnalysisPanel`` of the analysis dock, built on first use."""
        if self._analysis is None:
            from studio.ui.analysis_panel import AnalysisPanel

            panel = AnalysisPanel(self.analysis_dock, player=self.player,
                                  analyse_action=self.analyse_action)
            panel.set_clip_source(self.project_model.clips)
            panel.set_generation_source(self.project.generations, self.project_model)
            self._analysis = panel
            clip = self._selected_clip
            if clip is not None:
                clip = self.project_model.clip(clip.id) or clip
            panel.show_clip(clip)
            self.analysis_dock.setWidget(panel)
            self.project_model.current_clip_changed.connect(panel.show_clip)
            panel.status_message.connect(self._on_status_message)
        return self._analysis

    @Slot(bool)
    def _on_analysis_visibility(self, visible: bool) -> None:
        if visible:
            self.analysis  # noqa: B018 -- builds the panel

    @Slot()
    def _on_analyse_triggered(self) -> None:
        if self._analysis is None:  # built now, after this trigger's own delivery began
            self.analysis.analyse()
        self.show_analysis()

    @Slot()
    def show_analysis(self) -> None:
        if self.analysis_dock.isHidden() and not self.analysis_dock.isFloating():
            self.analysis_dock.show()  # sharing the height about evenly with the player
            self.resizeDocks([self.analysis_dock], [max(380, int(self.height() * 0.45))],
                             Qt.Orientation.Vertical)
        self.analysis_dock.show()
        self.analysis_dock.raise_()

    # -- wiring ---------------------------------------------------------------------------
    @Slot(object)
    def _on_clip_selected(self, clip: Clip | None) -> None:
        self._selected_clip = clip
        if self._analysis is None:  # the panel decides, once it exists
            self.analyse_action.setEnabled(bool(clip is not None and clip.info is not None
                                                and not clip.missing))
        if clip is None:
            self.player.set_clip(None, None, 0, 0.0, None, None)
            return
        if clip.info is None or clip.missing:
            reason = "Cannot play: " + (clip.error or f"{clip.path} is missing")
            self.player.show_unplayable(reason)
            self.statusBar().showMessage(reason, 8000)
            return
        info = clip.info
        self.player.set_clip(clip.id, clip.path, info.frame_count, info.fps,
                             clip.in_frame, clip.out_frame)

    @Slot(int, object, object)
    def _on_in_out_changed(self, clip_id: int, in_frame, out_frame) -> None:
        clip = self.project_model.clip(clip_id)
        if clip is None:
            return
        command = SetInOutCommand(self.project_model, clip_id, clip.name,
                                  (clip.in_frame, clip.out_frame), (in_frame, out_frame))
        self.undo_stack.push(command)
        if command.error:  # marks that do not fit the clip: nothing was stored or kept
            self._on_status_message(command.error)

    @Slot(list)
    def _on_clips_changed(self, clips: list) -> None:
        """Marks set in the player, by an undo or by a relink: shown wherever the clip is."""
        for clip in clips:
            if self.player.clip_id == clip.id:
                self.player.show_in_out(clip.in_frame, clip.out_frame)
            if self._analysis is not None:
                self._analysis.set_in_out(clip.id, clip.in_frame, clip.out_frame)

    @Slot(int, int)
    def _on_caption_frame_clicked(self, clip_id: int, index: int) -> None:
        """A frame of the caption panel's strip: show it in the player."""
        if self.player.clip_id == clip_id:
            self.player.pause()
            self.player.seek(index)

    @Slot(str)
    def _on_status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # -- persistence ----------------------------------------------------------------------
    @staticmethod
    def settings() -> QSettings:
        return QSettings(str(ui_settings_path()), QSettings.Format.IniFormat)

    def _restore_layout(self) -> None:
        s = self.settings()
        if s.value("layout/version", 0, int) != SETTINGS_VERSION:
            return
        geometry = s.value("layout/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._restored_state = self.workspaces.restore(s)
        self.bin.restore_state(s.value("bin/header"))
        self.captions.restore_settings(s)
        self.fit_to_screen()

    @Slot()
    def reset_layout(self) -> None:
        """View > Reset Layout: the current workspace's docks as at the first start (the side
        docks at their widths) and the window at its first size, within the screen."""
        self.workspaces.forget(self.workspaces.current)
        self.workspaces.apply_default()
        self._preview_dock_sized = False
        size = DEFAULT_SIZE
        available = available_geometry(self)
        if not available.isEmpty():
            size = size.boundedTo(available.size() - self._frame_extra())
        self.resize(size.expandedTo(self.minimumSizeHint()))
        self.workspaces.apply_default()  # the docks' sizes for the window's new size
        self.fit_to_screen()

    def _frame_extra(self) -> QSize:
        """What the window manager's frame adds to the window's size."""
        frame, inner = self.frameGeometry(), self.geometry()
        return QSize(frame.width() - inner.width(), frame.height() - inner.height())

    def layout_fits(self, available: QRect | None = None) -> bool:
        """Whether the window's minimum size, with the panels shown now, fits ``available``
        (the screen's, by default)."""
        available = available_geometry(self) if available is None else available
        if available.isEmpty():
            return True
        need = self.minimumSizeHint() + self._frame_extra()
        return need.width() <= available.width() and need.height() <= available.height()

    def fit_to_screen(self, available: QRect | None = None) -> None:
        """Keep the window on the screen: no larger than its available part, and inside it.
        A restored layout whose panels need more room than the screen has falls back to the
        default layout (it came back wider than the screen after every restart)."""
        available = available_geometry(self) if available is None else available
        if available.isEmpty():
            return
        if not self.layout_fits(available):
            self.workspaces.forget(self.workspaces.current)
            self.workspaces.apply_default()
        extra = self._frame_extra()
        size = self.size().boundedTo(available.size() - extra).expandedTo(self.minimumSizeHint())
        if size != self.size():
            self.resize(size)
        frame = self.frameGeometry()
        x = max(available.left(), min(frame.x(), available.right() + 1 - frame.width()))
        y = max(available.top(), min(frame.y(), available.bottom() + 1 - frame.height()))
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._restored_state and not self._shown_once:
            # The panels a restored layout shows are built as their docks first show: only
            # now does the minimum size count them.
            QTimer.singleShot(0, self, self.fit_to_screen)
            QTimer.singleShot(0, self, self._drop_stale_tab_bars)
        self._shown_once = True

    @Slot()
    def _drop_stale_tab_bars(self) -> None:
        drop_stale_tab_bars(self)

    def save_layout(self) -> None:
        s = self.settings()
        s.setValue("layout/version", SETTINGS_VERSION)
        s.setValue("layout/geometry", self.saveGeometry())
        s.remove("layout/state")  # one per workspace now
        self.workspaces.save(s)
        s.setValue("bin/header", self.bin.save_state())
        self.captions.save_settings(s)
        s.sync()

    @Slot()
    def shutdown(self) -> None:
        """Stop every worker thread; safe to call twice (close, then application quit)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.captions.shutdown()  # saves an unsaved caption edit
        if self._prompt_panel is not None and not self.project.read_only:
            self._prompt_panel.save_state()  # the last keys typed in the Generate panel
        if self._export_dialog is not None:
            self._export_dialog.shutdown()
        if self._clip_export_dialog is not None:
            self._clip_export_dialog.shutdown()
        if self._export_queue is not None:
            self._export_queue.shutdown()  # cancels; finished files stay, the running one is dropped
        if self._generation_queue is not None:
            self._generation_queue.shutdown()  # the running job comes back as interrupted
        self.model_manager.shutdown()  # cancels a running caption; waits for the thread
        if self._cluster is not None:
            self._cluster.shutdown()  # cancels cluster runs: their workers are killed
        if self._analysis is not None:
            self._analysis.shutdown()
        if self._preview_panel is not None:
            self._preview_panel.shutdown()
        if self._generations_panel is not None:
            self._generations_panel.shutdown()
        self.player.shutdown()
        self.bin.shutdown()

    def take_dropped(self, paths: list[str]) -> None:
        self.open_files(paths)

    def closeEvent(self, event) -> None:
        self.save_layout()
        self.shutdown()
        super().closeEvent(event)
