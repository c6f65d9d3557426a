"""The clip bin: a sortable, filterable table of the project's clips with thumbnails.

Drop files or folders on it (or use File > Import). Probing and thumbnails run on the shared
pool; results come back to bound slots here, which hand them to the ``ProjectModel`` (the
GUI's one writer). The rows follow the model's signals, whoever made the change (an import,
an undo, an in/out mark set in the player).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import (
    QByteArray,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QIcon,
    QKeySequence,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.library import Clip, ProjectError
from studio.core.paths import display_path
from studio.settings import cores_but_one
from studio.ui.column_fit import ColumnFit, FittedTableView
from studio.ui.edits import RemoveClipsCommand
from studio.ui.file_drops import FileDropTarget
from studio.ui.first_paint import after_first_paint
from studio.ui.media_workers import (
    THUMB_H,
    THUMB_W,
    CancelToken,
    Inspected,
    Scanned,
    Thumbnail,
    import_files,
    load_thumbnail,
    thumbnail_pixmap,
)
from studio.ui.workers import Workers

if TYPE_CHECKING:
    from studio.ui.project_model import ProjectModel

THUMB_MAX_SIDE = 192  # cached at twice the shown size, for high-DPI screens
THUMBNAILS_FALLBACK_MS = 1000  # the stored clips' thumbnails start after this if no paint came
FIRST_ROWS = 80  # rows made before the first paint: more than a screenful at any size
ROWS_PER_TICK = 100  # the rest, this many per turn of the event loop (about 15 ms)
# "Caption" came later: appended so saved column indices keep their meaning, and moved to
# show beside the name (BinPanel.__init__).
COLUMNS = ("Name", "Duration", "Size", "FPS", "Frames", "In / Out", "Codec", "Folder", "Caption")
(COL_NAME, COL_DURATION, COL_SIZE, COL_FPS, COL_FRAMES, COL_INOUT, COL_CODEC, COL_FOLDER,
 COL_CAPTION) = range(9)
# What a narrow bin shows beside the name (ui.column_fit), most wanted first, and their widths
COLUMN_WIDTHS = {COL_CAPTION: 84, COL_DURATION: 72, COL_SIZE: 90, COL_FPS: 48, COL_FRAMES: 60,
                 COL_INOUT: 80, COL_CODEC: 64, COL_FOLDER: 160}
NAME_MIN_PX = 200  # the thumbnail and about 15 characters of the name
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CLIP_ID_ROLE = Qt.ItemDataRole.UserRole + 2
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3
CAPTION_STATE_ROLE = Qt.ItemDataRole.UserRole + 4

# A clip's caption state, in sort order. "queued" and "captioning" are shown only while a
# caption job waits for or works on the clip.
CAPTION_STATES = ("none", "failed", "queued", "captioning", "edited", "captioned")
_CAPTION_STATE_TEXT = {"none": "none", "failed": "failed", "queued": "queued",
                       "captioning": "captioning…", "edited": "edited", "captioned": "captioned"}
_CAPTION_STATE_COLOR = {"none": QColor(128, 128, 134), "failed": QColor(226, 96, 80),
                        "queued": QColor(176, 150, 96), "captioning": QColor(230, 180, 60),
                        "edited": QColor(110, 160, 240), "captioned": QColor(96, 190, 120)}
_CAPTION_TOOLTIP_CHARS = 400


class CaptionMark(NamedTuple):  # a NamedTuple is made faster than a dataclass at import
    """What the bin shows of a clip's caption: its state, the current text (tooltip and
    filter) and, for "failed", why."""

    state: str = "none"
    text: str = ""
    error: str = ""


def format_duration(seconds: float) -> str:
    m, s = divmod(max(seconds, 0.0), 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:05.2f}" if h else f"{m}:{s:05.2f}"


def summary(info) -> str:
    """One line under a clip's name, so a narrow bin still says what the clip is."""
    size = f"{info.width}×{info.height}"
    if info.kind == "image":
        return f"still · {size}"
    return f"{format_duration(info.duration_s)} · {size} · {info.fps:.3g} fps"


def clip_status(clip: Clip) -> str | None:
    """Why a clip cannot be used, for its tooltip; None when it can."""
    if clip.missing:
        return f"{clip.path}: file missing or changed since import (right-click > Relink…)"
    return clip.error


class BinModel(QStandardItemModel):
    """The bin's rows, held in C++ items.

    Painting and sorting then never call into Python: a view that asked a Python model for
    every role of every visible cell would wait for the GIL on each call while import and
    thumbnail workers run Python, and stall the GUI (bench/bin_drop.py measures it).
    """

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self._clips: dict[int, Clip] = {}
        self._name_items: dict[int, QStandardItem] = {}
        self._thumbs: dict[int, QPixmap] = {}
        self._captions: dict[int, CaptionMark] = {}
        self._placeholder = QPixmap(THUMB_W, THUMB_H)
        self._placeholder.fill(QColor(40, 40, 44))
        self._warning_icon: QIcon | None = None

    # -- contents -------------------------------------------------------------------------
    def set_clips(self, clips: list[Clip], captions: dict[int, CaptionMark] | None = None) -> None:
        self.removeRows(0, self.rowCount())
        self._clips.clear()
        self._name_items.clear()
        self._captions = dict(captions or {})
        self.add_clips(clips)

    def add_clips(self, clips: list[Clip]) -> None:
        for clip in clips:
            items = [QStandardItem() for _ in COLUMNS]
            for item in items:
                item.setEditable(False)
            self._clips[clip.id] = clip
            self._name_items[clip.id] = items[COL_NAME]
            self._fill(items, clip)
            self.appendRow(items)

    def update_clip(self, clip: Clip) -> None:
        name_item = self._name_items.get(clip.id)
        if name_item is None:
            return
        self._clips[clip.id] = clip
        row = name_item.row()
        self._fill([self.item(row, col) for col in range(len(COLUMNS))], clip)

    def remove_clip_ids(self, clip_ids: set[int]) -> None:
        rows = sorted((self._name_items[i].row() for i in clip_ids if i in self._name_items),
                      reverse=True)
        for row in rows:
            self.removeRow(row)
        for i in clip_ids:
            self._clips.pop(i, None)
            self._name_items.pop(i, None)
            self._thumbs.pop(i, None)
            self._captions.pop(i, None)

    def set_caption_mark(self, clip_id: int, mark: CaptionMark) -> None:
        """Show a clip's caption state; the text is also what the filter box searches."""
        self._captions[clip_id] = mark
        name_item = self._name_items.get(clip_id)
        if name_item is None:
            return
        self._fill_caption(self.item(name_item.row(), COL_CAPTION), mark)
        name_item.setData(self._search_text(self._clips[clip_id], mark), SEARCH_ROLE)

    def caption_mark(self, clip_id: int) -> CaptionMark:
        return self._captions.get(clip_id) or CaptionMark()

    def set_thumbnail(self, clip_id: int, pixmap: QPixmap) -> None:
        self._thumbs[clip_id] = pixmap
        clip = self._clips.get(clip_id)
        if clip is not None and not clip_status(clip):
            self._name_items[clip_id].setData(pixmap, Qt.ItemDataRole.DecorationRole)

    def thumbnail(self, clip_id: int) -> QPixmap | None:
        return self._thumbs.get(clip_id)

    def thumbnail_count(self) -> int:
        return len(self._thumbs)

    def clip_at(self, row: int) -> Clip:
        return self._clips[self.item(row, COL_NAME).data(CLIP_ID_ROLE)]

    def clip_by_id(self, clip_id: int) -> Clip | None:
        return self._clips.get(clip_id)

    def clips(self) -> list[Clip]:
        return [self.clip_at(row) for row in range(self.rowCount())]

    def row_of(self, clip_id: int) -> int | None:
        item = self._name_items.get(clip_id)
        return None if item is None else item.row()

    # -- one row --------------------------------------------------------------------------
    def _fill(self, items: list[QStandardItem], clip: Clip) -> None:
        status = clip_status(clip)
        tooltip = status or clip.path
        dim = (QColor(200, 120, 60) if clip.missing else QColor(150, 150, 150)) if status else None
        for col, item in enumerate(items):
            if col == COL_CAPTION:
                continue
            item.setText(self._display(clip, col))
            item.setData(self._sort_key(clip, col), SORT_ROLE)
            item.setToolTip(tooltip)
            if dim is not None:
                item.setForeground(dim)
            else:
                item.setData(None, Qt.ItemDataRole.ForegroundRole)
            if col in (COL_DURATION, COL_FPS, COL_FRAMES):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        mark = self.caption_mark(clip.id)
        self._fill_caption(items[COL_CAPTION], mark)
        name = items[COL_NAME]
        name.setData(clip.id, CLIP_ID_ROLE)
        name.setData(self._search_text(clip, mark), SEARCH_ROLE)
        name.setData(self._warning() if status else self._thumbs.get(clip.id, self._placeholder),
                     Qt.ItemDataRole.DecorationRole)

    @staticmethod
    def _search_text(clip: Clip, mark: CaptionMark) -> str:
        # One line: the filter's ".*" does not cross line breaks.
        return " ".join([clip.path.lower(), *mark.text.lower().split()])

    @staticmethod
    def _fill_caption(item: QStandardItem, mark: CaptionMark) -> None:
        item.setText(_CAPTION_STATE_TEXT[mark.state])
        item.setData(mark.state, CAPTION_STATE_ROLE)
        item.setData(CAPTION_STATES.index(mark.state), SORT_ROLE)
        item.setForeground(_CAPTION_STATE_COLOR[mark.state])
        if mark.state == "failed":
            tip = f"Captioning failed: {mark.error}"
        elif mark.text:
            text = mark.text if len(mark.text) <= _CAPTION_TOOLTIP_CHARS else \
                mark.text[:_CAPTION_TOOLTIP_CHARS].rsplit(" ", 1)[0] + " …"
            tip = f"{mark.state.capitalize()}: {text}"
        else:
            tip = "No caption yet"
        item.setToolTip(tip)

    def _warning(self) -> QIcon:
        if self._warning_icon is None:
            # Imported here: the QStyle type costs ~10 ms to load, and start-up rarely needs it.
            from PySide6.QtWidgets import QApplication, QStyle

            self._warning_icon = QApplication.style().standardIcon(
                QStyle.StandardPixmap.SP_MessageBoxWarning)
        return self._warning_icon

    @staticmethod
    def _display(clip: Clip, col: int) -> str:
        info = clip.info
        # os.path: a Path per cell adds up over many rows; display_path: a name that is not
        # UTF-8 shows U+FFFD where Qt would silently drop the bytes
        name = display_path(os.path.basename(clip.path))
        if col == COL_NAME:
            if clip.missing:
                return f"{name}\nmissing"
            if info is None:
                reason = (clip.error or "").split(": ", 1)[-1]
                return f"{name}\n{reason}"
            return f"{name}\n{summary(info)}"
        if col == COL_FOLDER:
            return display_path(os.path.dirname(clip.path))
        if info is None:
            return ""
        if col == COL_DURATION:
            return "still" if info.kind == "image" else format_duration(info.duration_s)
        if col == COL_SIZE:
            return f"{info.width}×{info.height}"
        if col == COL_FPS:
            return "" if info.kind == "image" else f"{info.fps:.3g}"
        if col == COL_FRAMES:
            return f"~{info.frame_count}" if info.frame_count_estimated else str(info.frame_count)
        if col == COL_INOUT:
            if clip.in_frame is None and clip.out_frame is None:
                return ""
            first = clip.in_frame or 0
            last = clip.out_frame if clip.out_frame is not None else info.frame_count - 1
            return f"{first}–{last}"
        if col == COL_CODEC:
            return info.codec
        return ""

    @staticmethod
    def _sort_key(clip: Clip, col: int):
        info = clip.info
        if col == COL_NAME:
            return os.path.basename(clip.path).lower()
        if col == COL_FOLDER:
            return os.path.dirname(clip.path).lower()
        if info is None:
            return -1 if col != COL_CODEC else ""
        return {
            COL_DURATION: info.duration_s,
            COL_SIZE: info.width * info.height,
            COL_FPS: info.fps,
            COL_FRAMES: info.frame_count,
            COL_INOUT: (clip.in_frame or 0),
            COL_CODEC: info.codec,
        }[col]


class BinFilterModel(QSortFilterProxyModel):
    """Sorts by each column's natural key; the filter matches every word of the filter text
    in the clip's path. Both run in C++ (roles and a regular expression), not in Python."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(SEARCH_ROLE)
        self.setFilterKeyColumn(COL_NAME)

    def set_filter_text(self, text: str) -> None:
        # Imported here: building its Python type slows start-up.
        from PySide6.QtCore import QRegularExpression

        words = text.lower().split()
        pattern = "".join(f"(?=.*{re.escape(w)})" for w in words)
        self.setFilterRegularExpression(QRegularExpression(pattern) if words else QRegularExpression())


class BinView(FileDropTarget, FittedTableView):
    """The table itself; accepts drops of files and folders."""

    paths_dropped = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setDropIndicatorShown(False)

    def take_dropped(self, paths: list[str]) -> None:
        self.paths_dropped.emit(paths)


class BinPanel(QWidget):
    """Bin dock contents: filter box, clip table, import progress line."""

    clip_selected = Signal(object)  # Clip or None
    status_message = Signal(str)
    import_finished = Signal()

    def __init__(self, model: ProjectModel, parent=None, undo_stack: QUndoStack | None = None):
        super().__init__(parent)
        self.setObjectName("BinPanel")
        self.project_model = model
        self.project = model.project  # reads only: every write goes through the model
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self._init_workers()
        self._selected_id: int | None = None
        self._shut_down = False
        # The stored clips' thumbnails start once the window has been painted: their worker
        # loads OpenCV, which would take the GIL from the first paint. The rows show at once.
        self._thumbnails_after_paint: list[Clip] | None = []
        self._rows_to_add: list[int] = []  # clip ids whose rows ``reload`` left for later

        self.model = BinModel(self)
        self.proxy = BinFilterModel(self)
        self.proxy.setSourceModel(self.model)

        self.filter_box = QLineEdit(self)
        self.filter_box.setPlaceholderText("Filter by name, folder or caption words…")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.setAccessibleName("Filter clips")
        self.filter_box.setAccessibleDescription("Shows only the clips whose name, folder or "
                                                 "caption holds these words")
        self.filter_box.textChanged.connect(self._on_filter_text)

        self._build_view()
        self._build_empty_hint()
        self._build_progress_row()
        self._build_actions()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.filter_box)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_hint, 1)
        layout.addWidget(self.progress_row)
        self.setAcceptDrops(True)

        self._follow_model(model)
        self.reload()
        after_first_paint(self, self._request_deferred_thumbnails, THUMBNAILS_FALLBACK_MS)

    def _follow_model(self, model: ProjectModel) -> None:
        model.clips_added.connect(self._on_clips_added)
        model.clips_restored.connect(self._on_clips_restored)
        model.clips_changed.connect(self._on_clips_changed)
        model.clips_removed.connect(self._on_clips_removed)
        model.caption_changed.connect(self.refresh_caption_state)
        model.caption_state_changed.connect(self._on_caption_state)

    # -- construction ---------------------------------------------------------------------
    def _init_workers(self) -> None:
        """The probe and thumbnail lane on the shared pool, the import's signals, and the
        import's cancel token and counts."""
        # Two workers probe and thumbnail, but never every core: on 2 cores two busy Python
        # workers starve the GUI thread (bench/bin_drop.py: worst gaps 25-60 ms against
        # 16-22 ms with one, and 500 clips take the same 1.2-1.6 s either way).
        self.pool = Workers(self, limit=min(2, cores_but_one()))
        self._cancel = CancelToken()
        self._imports_running = 0
        self._import_total = 0
        self._import_done = 0
        self._import_skipped = 0
        self._import_new = 0
        self._import_unusable: list[str] = []  # files of this import that are no media
        self._import_failed: list[str] = []

    def _build_view(self) -> None:
        """The clip table over ``proxy``: columns, drops, selection and context menu."""
        self.view = BinView(self)
        self.view.setObjectName("BinView")
        self.view.setAccessibleName("Clip bin")
        self.view.setAccessibleDescription("The project's clips: name, duration, size and "
                                           "caption. Drop video files here to import them")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(QPixmap(THUMB_W, THUMB_H).size())
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.setShowGrid(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.view.verticalHeader().setDefaultSectionSize(THUMB_H + 8)
        self._build_header()
        self.view.paths_dropped.connect(self.import_paths)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)

    def _build_header(self) -> None:
        """The name fills the width the other columns leave; those that do not fit are
        hidden (ui.column_fit), each at least as wide as its title."""
        header = self.view.horizontalHeader()
        header.setSectionsMovable(True)
        self.column_fit = ColumnFit(self.view, COLUMNS, COL_NAME, COLUMN_WIDTHS, NAME_MIN_PX)
        header.moveSection(header.visualIndex(COL_CAPTION), COL_NAME + 1)

    def _build_empty_hint(self) -> None:
        """What an empty bin shows instead of the table."""
        self.empty_hint = QLabel(
            "Drop video files, GIFs, images or whole folders here, or use File › Import (Ctrl+I)",
            self)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)  # or its one long line sets the whole window's minimum width
        self.empty_hint.setObjectName("BinEmptyHint")
        self.empty_hint.setStyleSheet(
            "color: palette(mid); padding: 24px; border: 2px dashed palette(mid); border-radius: 8px;")

    def _build_progress_row(self) -> None:
        """The import's progress bar and Cancel button, hidden until an import runs."""
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("BinProgress")
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop importing (files already added stay in the bin)")
        self.cancel_button.clicked.connect(self.cancel_imports)
        self.progress_row = QWidget(self)
        row = QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        self.progress_row.hide()

    def _build_actions(self) -> None:
        """Remove from Project (Delete, on the table) and Relink…."""
        self.remove_action = QAction("Remove from Project", self)
        self.remove_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.remove_action.setEnabled(False)  # until clips are selected (_on_selection_changed)
        self.view.addAction(self.remove_action)
        self.relink_action = QAction("Relink…", self)
        self.relink_action.triggered.connect(self.relink_selected)

    # -- loading --------------------------------------------------------------------------
    def reload(self) -> None:
        """The project's clips in the table: the first FIRST_ROWS at once (more than a
        screenful), the rest ROWS_PER_TICK at a time from the event loop, after the first
        paint when starting (a 1,000-clip project's rows took 0.26 s before it)."""
        clips = self.project_model.clips(fresh=True)
        first, self._rows_to_add = clips[:FIRST_ROWS], [c.id for c in clips[FIRST_ROWS:]]
        self.model.set_clips(first, {c.id: self._stored_caption_mark(c.id) for c in first})
        self._update_empty_hint()
        if self._thumbnails_after_paint is not None:  # starting: see __init__
            self._thumbnails_after_paint = first
            return
        for clip in first:
            self._request_thumbnail(clip)
        if self._rows_to_add:
            QTimer.singleShot(0, self, self._add_more_rows)

    @Slot()
    def _request_deferred_thumbnails(self) -> None:
        clips, self._thumbnails_after_paint = self._thumbnails_after_paint, None
        if self._shut_down:
            return
        for clip in clips or ():
            current = self.model.clip_by_id(clip.id)  # not removed or relinked meanwhile
            if current is not None:
                self._request_thumbnail(current)
        self._add_more_rows()

    @Slot()
    def _add_more_rows(self) -> None:
        """ROWS_PER_TICK more of the rows ``reload`` left for later, as the model has them
        now (one removed meanwhile is left out), with their thumbnails; then the next."""
        if self._shut_down or not self._rows_to_add:
            return
        ids = self._rows_to_add[:ROWS_PER_TICK]
        del self._rows_to_add[:ROWS_PER_TICK]
        clips = [clip for clip in map(self.project_model.clip, ids)
                 if clip is not None and self.model.row_of(clip.id) is None]
        for clip in clips:
            self.model.set_caption_mark(clip.id, self._stored_caption_mark(clip.id))
        self.model.add_clips(clips)
        for clip in clips:
            self._request_thumbnail(clip)
        self._update_empty_hint()
        if self._rows_to_add:
            QTimer.singleShot(0, self, self._add_more_rows)

    @property
    def loading_rows(self) -> bool:
        """Whether rows of the project's clips are still to come (see ``reload``)."""
        return bool(self._rows_to_add)

    def _update_empty_hint(self) -> None:
        empty = self.model.rowCount() == 0
        self.empty_hint.setVisible(empty)  # in the table's place, where a person drops files
        self.view.setVisible(not empty)

    # -- drops on the panel outside the table (the hint label, the filter box) --------------
    def dragEnterEvent(self, event):
        self.view.dragEnterEvent(event)

    def dragMoveEvent(self, event):
        self.view.dragMoveEvent(event)

    def dropEvent(self, event):
        self.view.dropEvent(event)

    # -- importing ------------------------------------------------------------------------
    @Slot(list)
    def import_paths(self, paths: list[str]) -> None:
        """Import files and folders (recursively) in the background."""
        if not paths:
            return
        if self.project_model.read_only:
            self.status_message.emit("Nothing imported: the project is open read-only")
            return
        if self._imports_running == 0:
            self._import_total = self._import_done = self._import_skipped = self._import_new = 0
            self._import_failed = []
            self._import_unusable = []
            self._cancel = CancelToken()
        self._imports_running += 1
        self._show_progress()
        self.pool.run(import_files, list(paths), self._cancel, priority=1,  # rows first
                      yielded=self._on_import_report, errored=self._on_import_error,
                      finished=self._on_import_task_finished)

    @Slot()
    def cancel_imports(self) -> None:
        self._cancel.cancel()

    @property
    def importing(self) -> bool:
        return self._imports_running > 0

    @Slot(object)
    def _on_import_report(self, report: Scanned | Inspected) -> None:
        if isinstance(report, Scanned):
            self._import_total += report.files
            self._import_skipped += report.skipped
            self._show_progress()
        else:
            self._on_inspected(report.found, report.failed)

    @Slot(object)
    def _on_import_error(self, err: Exception) -> None:
        self._import_failed.append(f"{type(err).__name__}: {err}")

    def _on_inspected(self, found: list, failures: list) -> None:
        """A batch of probed and stamped files: recorded through the model (whose signals
        add the rows); the counts for the progress line."""
        self._import_failed.extend(str(err) for err in failures)
        self._import_done += len(failures)
        if found:
            try:
                results = self.project_model.add_clips(found)
            except ProjectError as err:  # read-only, disk full: none of the batch is in
                self._import_failed.extend(f"{display_path(f.path)}: {err}" for f in found)
                self._import_done += len(found)
            else:
                self._import_done += len(results)
                # a file that is not media gets a row saying why, but is not a usable clip
                self._import_new += sum(created and clip.ok for clip, created in results)
                self._import_unusable.extend(clip.name for clip, _ in results if not clip.ok)
        self._show_progress()

    @Slot(list)
    def _on_clips_added(self, clips: list) -> None:
        self.model.add_clips(clips)
        for clip in clips:
            self._request_thumbnail(clip)
        self._update_empty_hint()

    @Slot(list)
    def _on_clips_restored(self, clips: list) -> None:
        for clip in clips:
            self.model.set_caption_mark(clip.id, self._stored_caption_mark(clip.id))
        self._on_clips_added(clips)
        self.status_message.emit(f"Restored {len(clips)} clip(s)")

    @Slot(list)
    def _on_clips_changed(self, clips: list) -> None:
        for clip in clips:
            before = self.model.clip_by_id(clip.id)
            self.model.update_clip(clip)
            if before is not None and (before.path, before.partial_hash, before.missing) != (
                    clip.path, clip.partial_hash, clip.missing):  # another file: its picture
                self._request_thumbnail(clip)

    @Slot(list)
    def _on_clips_removed(self, clip_ids: list) -> None:
        self.model.remove_clip_ids(set(clip_ids))
        self._update_empty_hint()
        self.status_message.emit(f"Removed {len(clip_ids)} clip(s) from the project "
                                 "(the files are untouched; Edit › Undo brings them back)")

    @Slot()
    def _on_import_task_finished(self) -> None:
        self._imports_running -= 1
        if self._imports_running:
            return
        text = f"Imported {self._import_new} new of {self._import_done} file(s)"
        if self._import_unusable:
            n, first = len(self._import_unusable), self._import_unusable[0]
            text += (f"; 1 is not media ({first})" if n == 1 else
                     f"; {n} are not media ({first} and {n - 1} more)")
        if self._import_skipped:
            text += f"; skipped {self._import_skipped} non-media file(s) in folders"
        if self._import_failed:
            text += f"; {len(self._import_failed)} could not be read: {self._import_failed[0]}"
        if self._cancel.cancelled:
            text += " (cancelled)"
        self.progress_row.hide()
        self.status_message.emit(text)
        self.import_finished.emit()

    def _show_progress(self) -> None:
        if self._imports_running == 0:
            return
        total = max(self._import_total, self._import_done)
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(self._import_done)
        self.progress_bar.setFormat(f"Importing {self._import_done} / {total}…")
        self.progress_row.show()

    # -- thumbnails -----------------------------------------------------------------------
    def _request_thumbnail(self, clip: Clip) -> None:
        if clip.info is None or clip.missing:
            return
        key = f"{clip.partial_hash}-{clip.size}-{THUMB_MAX_SIDE}.jpg"
        self.pool.run(load_thumbnail, clip.id, clip.path, self.project.thumbnails_dir / key,
                      THUMB_MAX_SIDE, returned=self._on_thumbnail,
                      priority=-1)  # imports first: rows before pictures

    @Slot(object)
    def _on_thumbnail(self, thumb: Thumbnail) -> None:
        if thumb.image is None:
            self.status_message.emit(f"No thumbnail: {thumb.error}")
        else:
            self.model.set_thumbnail(thumb.key, thumbnail_pixmap(thumb.image))

    # -- selection and editing ------------------------------------------------------------
    def selected_clips(self) -> list[Clip]:
        rows = self.view.selectionModel().selectedRows()
        return [self.model.clip_at(self.proxy.mapToSource(r).row()) for r in rows]

    def select_clip(self, clip_id: int) -> None:
        row = self.model.row_of(clip_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.view.selectRow(index.row())
        self.view.scrollTo(index)

    @Slot()
    def _on_selection_changed(self, *_args) -> None:
        clips = self.selected_clips()
        current = self.view.currentIndex()
        clip = None
        if current.isValid() and self.view.selectionModel().isRowSelected(current.row(), QModelIndex()):
            clip = self.model.clip_at(self.proxy.mapToSource(current).row())
        elif clips:
            clip = clips[0]
        self.project_model.set_selection(clips)
        self.remove_action.setEnabled(bool(clips) and not self.project_model.read_only)
        new_id = clip.id if clip else None
        if new_id != self._selected_id:
            self._selected_id = new_id
            self.clip_selected.emit(clip)

    @Slot(str)
    def _on_filter_text(self, text: str) -> None:
        self.proxy.set_filter_text(text)

    @Slot()
    def remove_selected(self) -> None:
        """Remove the selected clips from the project (undoable; files are never touched)."""
        clips = self.selected_clips()
        if clips:
            command = RemoveClipsCommand(self.project_model, [c.id for c in clips],
                                         [c.path for c in clips])
            self.undo_stack.push(command)
            if command.error:  # e.g. a project open read-only: nothing was removed
                self.status_message.emit(f"Not removed: {command.error}")

    # -- caption state ------------------------------------------------------------------------
    def _stored_caption_mark(self, clip_id: int) -> CaptionMark:
        caption = self.project.current_caption(clip_id)
        if caption is None or not caption.text.strip():  # an emptied caption counts as none
            return CaptionMark()
        return CaptionMark("edited" if caption.source == "edit" else "captioned", caption.text)

    def refresh_caption_state(self, clip_id: int) -> None:
        """Show the clip's stored caption (after a new version, an undo, a restore)."""
        self.model.set_caption_mark(clip_id, self._stored_caption_mark(clip_id))

    @Slot(int, str, str)
    def _on_caption_state(self, clip_id: int, state: str, message: str) -> None:
        """A caption run's state over a clip (the model relays the caption panel's)."""
        if state == "failed":
            self.set_caption_failed(clip_id, message)
        elif state == "queued":
            self.set_caption_queued(clip_id)
        elif state == "captioning":
            self.set_caption_running(clip_id)
        else:
            self.refresh_caption_state(clip_id)

    def set_caption_failed(self, clip_id: int, message: str) -> None:
        """Mark a clip whose captioning failed; it stays so until it gets a caption. The stored
        caption, if any, is kept (and still searched)."""
        stored = self._stored_caption_mark(clip_id)
        self.model.set_caption_mark(clip_id, CaptionMark("failed", stored.text, message))

    def set_caption_queued(self, clip_id: int) -> None:
        stored = self._stored_caption_mark(clip_id)
        self.model.set_caption_mark(clip_id, CaptionMark("queued", stored.text))

    def set_caption_running(self, clip_id: int) -> None:
        stored = self._stored_caption_mark(clip_id)
        self.model.set_caption_mark(clip_id, CaptionMark("captioning", stored.text))

    def caption_state(self, clip_id: int) -> str:
        return self.model.caption_mark(clip_id).state

    @Slot()
    def relink_selected(self) -> None:
        clips = self.selected_clips()
        if len(clips) != 1:
            return
        clip = clips[0]
        # Imported here: building its Python type slows start-up.
        from PySide6.QtWidgets import QFileDialog

        start = str(Path(clip.path).parent) if Path(clip.path).parent.exists() else ""
        new_path, _ = QFileDialog.getOpenFileName(self, f"Relink {Path(clip.path).name}", start)
        if new_path:
            self.relink(clip.id, new_path)

    def relink(self, clip_id: int, new_path: str) -> bool:
        try:
            clip = self.project_model.relink(clip_id, new_path)
        except (ValueError, OSError, ProjectError) as err:
            # Imported here: building its Python type slows start-up.
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(self, "Relink", str(err))
            return False
        if clip.id == self._selected_id:
            self.clip_selected.emit(clip)
        return True

    @Slot("QPoint")
    def _on_context_menu(self, pos) -> None:
        clips = self.selected_clips()
        if not clips:
            return
        menu = QMenu(self)
        menu.addAction(self.remove_action)
        if len(clips) == 1 and clips[0].missing:
            menu.addAction(self.relink_action)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    # -- layout state ---------------------------------------------------------------------
    @property
    def column_widths(self) -> dict[int, int]:
        """The width of each column beside the name, shown or not (a person's resize kept)."""
        return self.column_fit.widths

    def save_state(self) -> QByteArray:
        return self.view.horizontalHeader().saveState()

    def restore_state(self, state) -> None:
        """The saved column order, widths and sort; which columns fit is worked out again,
        and the name still takes the width the others leave."""
        if state:
            self.view.horizontalHeader().restoreState(state)
            self.column_fit.restored()

    def shutdown(self) -> None:
        self._shut_down = True
        self._cancel.cancel()
        self.pool.clear()
        self.pool.waitForDone(5000)
