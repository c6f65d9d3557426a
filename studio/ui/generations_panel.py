"""The generations list (Generate > Generations): every video the project generated, newest
first, with a thumbnail, the prompt, the model (and the demo label), seed, size and frames,
when it was made, and its analysis summary (mean warp error, flicker) once known.

Finished generations without an analysis in their sidecar are analysed in the background
(``core.metrics.analyze_generation``, one at a time on the shared worker pool, imported there:
it loads OpenCV);
the result goes into the list and into the ``.json`` sidecar under ``"analysis"`` (rewritten
atomically: a temporary file, then ``os.replace``; every other key is kept). Thumbnails are
made on the pool too and cached under the project's ``thumbnails/`` like the bin's.

Actions on the selected generation: Play (``play_requested``: the main window plays it in
the main player), Analyse (``analyse_requested``: the analysis panel measures it, beside its
source or another seed), Restore Settings (``restore_requested`` with ``GenerationParams``), Export…
(the export dialog with the generation as its source and its settings as metadata) and Show
in Folder. The model is a C++ ``QStandardItemModel`` (no Python ``data()`` overrides).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.cancel import Cancelled, CancelToken
from studio.inference.registry import (  # a light module (no torch)
    DEMO_LABEL,
    DEMO_PREFIX,
)
from studio.ui.column_fit import ColumnFit, FittedTableView
from studio.ui.media_workers import (
    THUMB_H,
    THUMB_W,
    Thumbnail,
    load_thumbnail,
    thumbnail_pixmap,
)
from studio.ui.side_by_side import SideBySide
from studio.ui.workers import Workers

THUMB_MAX_SIDE = 192
PROMPT_CHARS = 80
COLUMNS = ("Video", "Prompt", "Model", "Seed", "Size", "Created", "Warp error", "Flicker")
ID_ROLE = Qt.ItemDataRole.UserRole + 1


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def read_sidecar(path: str | os.PathLike) -> dict | None:
    """The sidecar's JSON of a generation video, or None when there is none (or it is not a
    JSON object). Raises ValueError naming the file when it cannot be read or parsed."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{side}: cannot read the sidecar ({err})") from None
    return data if isinstance(data, dict) else None


def write_analysis(path: str | os.PathLike, analysis: dict) -> Path | None:
    """Put ``analysis`` into the generation's sidecar under ``"analysis"``, keeping every other
    key; written to a temporary file beside it, then renamed over it. Returns the sidecar, or
    None when the generation has none (a sidecar is never created: it would hide the mp4's
    comment tag from ``read_record``). Raises OSError / ValueError naming the file."""
    data = read_sidecar(path)
    if data is None:
        return None
    side = sidecar_path(path)
    data["analysis"] = analysis
    tmp = side.with_name(f".{side.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, side)
    finally:
        tmp.unlink(missing_ok=True)
    return side


def summary_text(analysis: dict | None) -> tuple[str, str]:
    """(warp error, flicker) as shown in the list."""
    if not analysis:
        return "", ""
    warp, flicker = analysis.get("warp_error_mean"), analysis.get("flicker")
    return (f"{warp:.4f}" if isinstance(warp, (int, float)) else "–",
            f"{flicker:.4f}" if isinstance(flicker, (int, float)) else "–")


# ---- background work ----------------------------------------------------------------------------

class Inspected(NamedTuple):
    generation_id: int
    demo: bool
    analysis: dict | None  # the sidecar's, or None


class Analysing(NamedTuple):
    generation_id: int


class Analysed(NamedTuple):
    generation_id: int
    analysis: dict
    note: str  # '' or a problem (the analysis is not saved)


class Failed(NamedTuple):
    generation_id: int
    message: str  # names the file


def analyse_generation(generation_id: int, path: str, cancel: CancelToken,
                       analyse: bool = True):
    """A pool thread (a superqt worker, ``Workers.run``): read a generation's sidecar (demo?
    analysed?) and, when it has no analysis yet, analyse every frame and write the result
    into the sidecar. Yields ``Inspected``, then ``Analysing`` and ``Analysed``, or
    ``Failed``."""
    gid, path = generation_id, str(path)
    if cancel.cancelled:
        return
    try:
        data = read_sidecar(path)
    except ValueError as err:
        yield Failed(gid, str(err))
        data = None
    settings = (data or {}).get("settings")
    demo = isinstance(settings, dict) and bool(settings.get("demo"))
    existing = (data or {}).get("analysis")
    existing = existing if isinstance(existing, dict) else None
    yield Inspected(gid, demo, existing)
    if existing is not None or not analyse:
        return
    if not Path(path).is_file():
        yield Failed(gid, f"{path}: file not found")
        return
    yield Analysing(gid)
    try:
        from studio.core import metrics

        analysis = metrics.analyze_generation(path, cancel=cancel)
    except Cancelled:
        return
    except Exception as err:  # noqa: BLE001 - every failure becomes a message
        from studio.ui.analysis_worker import describe_failure

        yield Failed(gid, describe_failure(path, err))
        return
    note = ""
    try:
        if write_analysis(path, analysis) is None:
            note = f"{sidecar_path(path)}: no sidecar; the analysis is not saved"
    except (OSError, ValueError) as err:
        note = f"{sidecar_path(path)}: could not save the analysis ({err})"
    yield Analysed(gid, analysis, note)


# ---- the panel ------------------------------------------------------------------------------------

class GenerationsPanel(QWidget):
    play_requested = Signal(str, int, float)  # path, frame count, fps
    analyse_requested = Signal(object)  # core.library.Generation
    restore_requested = Signal(object)  # GenerationParams
    add_to_bin_requested = Signal(str)  # path: import it as a clip (caption it, export it)
    status_message = Signal(str)

    def __init__(self, model, parent: QWidget | None = None, *, export_queue=None,
                 analyse: bool = True):
        """``model``: the ``ProjectModel``, whose new generations join the list.
        ``export_queue``: a callable returning the ``ExportQueue`` Export… uses (None:
        Export… is off). ``analyse``: analyse generations that have no summary yet."""
        super().__init__(parent)
        self.setObjectName("GenerationsPanel")
        self.project = model.project  # reads only
        self.export_queue = export_queue
        self.analyse = analyse
        self.analyses: dict[int, dict] = {}  # generation id -> analysis (summary + series)
        self.demo: dict[int, bool] = {}
        self.problems: dict[int, str] = {}
        self._generations: dict[int, object] = {}
        self._thumbs: dict[int, QPixmap] = {}
        self._requested: set[int] = set()
        self._running: set[int] = set()
        self._export_dialog = None
        self._cancel = CancelToken()
        self._init_workers()
        self._placeholder = QPixmap(THUMB_W, THUMB_H)
        self._placeholder.fill(QColor(40, 40, 44))

        self._build_view()
        buttons = self._build_buttons()
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        layout.addWidget(self.status)

        model.generation_added.connect(self._on_generation_added)
        self.refresh()
        self._update_buttons()

    # -- construction ---------------------------------------------------------------------
    def _init_workers(self) -> None:
        """A lane of the shared pool for thumbnails and one for analyses, a job at a time
        each."""
        self.thumb_pool = Workers(self, limit=1)
        self.analysis_pool = Workers(self, limit=1, long=True)

    def _build_view(self) -> None:
        """The generations table: one row each, a thumbnail first; a double click plays."""
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.view = FittedTableView(self)
        self.view.setAccessibleName("Generations")
        self.view.setAccessibleDescription("The videos generated in this project, newest first")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(self._placeholder.size())
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(THUMB_H + 6)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # the prompt takes the width left; beside it what fits, most wanted first (it scrolled
        # sideways: "A paper boat drifting across a s…")
        self.column_fit = ColumnFit(self.view, COLUMNS, COLUMNS.index("Prompt"), {
            COLUMNS.index("Video"): THUMB_W + 10, COLUMNS.index("Seed"): 60,
            COLUMNS.index("Model"): 210, COLUMNS.index("Warp error"): 80,
            COLUMNS.index("Flicker"): 70, COLUMNS.index("Size"): 100,
            COLUMNS.index("Created"): 130}, main_min_px=160, always=(COLUMNS.index("Video"),))
        self.view.doubleClicked.connect(lambda _index: self.play_selected())
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)

    def _build_buttons(self) -> SideBySide:
        """The selected generation's buttons (returned as a row) and the status line."""
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.play_selected)
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setToolTip("Plot its warp error, motion and flicker per frame "
                                       "pair in the Analysis panel, to compare with its "
                                       "source or another seed")
        self.analyse_button.clicked.connect(self.analyse_selected)
        self.restore_button = QPushButton("Restore Settings")
        self.restore_button.clicked.connect(self.restore_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export_selected)
        self.folder_button = QPushButton("Show in Folder")
        self.folder_button.clicked.connect(self.show_selected_in_folder)
        self.add_to_bin_button = QPushButton("Add to Bin")
        self.add_to_bin_button.setToolTip("Import it into the bin as a clip: to caption it, "
                                          "mark in/out points, or use it as a source")
        self.add_to_bin_button.clicked.connect(self.add_selected_to_bin)
        self.status = QLabel()
        self.status.setWordWrap(True)
        # two groups, side by side when the dock is wide enough, else one above the other: in
        # one row they made the dock 583 px wide at least (too wide beside the Analysis dock)
        groups = []
        for group in ((self.play_button, self.analyse_button, self.restore_button),
                      (self.export_button, self.add_to_bin_button, self.folder_button)):
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            for button in group:
                row.addWidget(button)
            row.addStretch(1)
            groups.append(box)
        return SideBySide(groups, spacing=6, stacked_spacing=2, stretches=(0, 1))

    # -- listing --------------------------------------------------------------------------
    def refresh(self) -> None:
        """List the project's generations again (newest first), keeping the selection, and
        start thumbnails and analyses for new ones."""
        selected = self.selected_id()
        try:
            generations = self.project.generations()
        except Exception as err:  # noqa: BLE001 - a broken database: say so, keep the list
            self.status.setText(f"{self.project.root}: cannot read the generations ({err})")
            return
        self._generations = {g.id: g for g in generations}
        self.model.removeRows(0, self.model.rowCount())
        for generation in reversed(generations):
            self.model.appendRow(self._row(generation))
        if selected is not None:
            self.select(selected)
        for generation in generations:
            if generation.id not in self._requested:
                self._requested.add(generation.id)
                self._start_work(generation)
        self._update_status()

    def _row(self, g) -> list[QStandardItem]:
        thumb = QStandardItem()
        thumb.setData(g.id, ID_ROLE)
        thumb.setData(self._thumbs.get(g.id, self._placeholder), Qt.ItemDataRole.DecorationRole)
        thumb.setToolTip(g.path)
        prompt_text = (g.prompt or "").strip()
        shown = prompt_text if len(prompt_text) <= PROMPT_CHARS \
            else prompt_text[:PROMPT_CHARS - 1].rstrip() + "…"
        prompt = QStandardItem(shown or "(no prompt)")
        prompt.setToolTip(prompt_text)
        model = QStandardItem(self._model_text(g))
        model.setToolTip(g.model or "")
        if DEMO_LABEL in model.text():
            model.setForeground(QColor(224, 140, 40))
        seed = g.params.get("seed")
        seed_item = QStandardItem("" if seed is None else str(seed))
        size = QStandardItem(self._size_text(g))
        created = QStandardItem(time.strftime("%Y-%m-%d %H:%M", time.localtime(g.created_at)))
        warp, flicker = summary_text(self.analyses.get(g.id))
        if g.id in self._running:
            warp = "analysing…"
        warp_item, flicker_item = QStandardItem(warp), QStandardItem(flicker)
        problem = self.problems.get(g.id)
        if problem:
            warp_item.setText("–")
            warp_item.setToolTip(problem)
        items = [thumb, prompt, model, seed_item, size, created, warp_item, flicker_item]
        for item in items:
            item.setEditable(False)
        return items

    def _model_text(self, g) -> str:
        name = g.model or "?"
        if os.path.isabs(name):  # a model folder: its name (the tooltip has the path)
            name = Path(name.rstrip("/\\")).name or name
        if self.demo.get(g.id) or (g.model or "").startswith(DEMO_PREFIX):
            return f"{name}\n⚠ {DEMO_LABEL}"
        return name

    @staticmethod
    def _size_text(g) -> str:
        if g.info is not None:
            return f"{g.info.width}×{g.info.height}, {g.info.frame_count} f"
        p = g.params
        if p.get("width") and p.get("height"):
            return f"{p['width']}×{p['height']}, {p.get('num_frames', '?')} f"
        return ""

    def _row_of(self, generation_id: int) -> int:
        for row in range(self.model.rowCount()):
            if self.model.item(row, 0).data(ID_ROLE) == generation_id:
                return row
        return -1

    def _update_row(self, generation_id: int) -> None:
        row = self._row_of(generation_id)
        g = self._generations.get(generation_id)
        if row < 0 or g is None:
            return
        fresh = self._row(g)
        for column in range(1, len(COLUMNS)):
            item = self.model.item(row, column)
            item.setText(fresh[column].text())
            item.setToolTip(fresh[column].toolTip())
            item.setData(fresh[column].data(Qt.ItemDataRole.ForegroundRole),
                         Qt.ItemDataRole.ForegroundRole)

    def _update_status(self) -> None:
        count = self.model.rowCount()
        running = len(self._running)
        text = (f"{count} generation{'s' if count != 1 else ''}" if count else
                "No generations yet: Generate > Prompt Panel makes one.")
        if running:
            text += " · analysing…"
        self.status.setText(text)

    # -- background work ------------------------------------------------------------------
    def _start_work(self, g) -> None:
        if Path(g.path).is_file():
            stat = Path(g.path).stat()
            key = f"gen-{g.id}-{stat.st_size}-{int(stat.st_mtime)}-{THUMB_MAX_SIDE}.jpg"
            self.thumb_pool.run(load_thumbnail, g.id, g.path, self.project.thumbnails_dir / key,
                                THUMB_MAX_SIDE, returned=self._on_thumbnail)
        else:
            self.problems[g.id] = f"{g.path}: file not found"
            self._update_row(g.id)
        self.analysis_pool.run(analyse_generation, g.id, g.path, self._cancel,
                               analyse=self.analyse, yielded=self._on_analysis)

    @property
    def busy(self) -> bool:
        return bool(self._running) or self.analysis_pool.activeThreadCount() > 0

    @Slot(object)
    def _on_thumbnail(self, thumb: Thumbnail) -> None:
        if thumb.image is None:
            self.status_message.emit(f"No thumbnail: {thumb.error}")
            return
        canvas = self._thumbs[thumb.key] = thumbnail_pixmap(thumb.image)
        row = self._row_of(thumb.key)
        if row >= 0:
            self.model.item(row, 0).setData(canvas, Qt.ItemDataRole.DecorationRole)

    def thumbnail(self, generation_id: int) -> QPixmap | None:
        return self._thumbs.get(generation_id)

    @Slot(object)
    def _on_analysis(self, event) -> None:
        """What an ``analyse_generation`` worker yielded."""
        handler = {Inspected: self._on_inspected, Analysing: self._on_analysing,
                   Analysed: self._on_analysed, Failed: self._on_failed}[type(event)]
        handler(*event)

    def _on_inspected(self, generation_id: int, demo: bool, analysis) -> None:
        self.demo[generation_id] = demo
        if analysis is not None:
            self.analyses[generation_id] = analysis
        self._update_row(generation_id)

    def _on_analysing(self, generation_id: int) -> None:
        self._running.add(generation_id)
        self._update_row(generation_id)
        self._update_status()

    def _on_analysed(self, generation_id: int, analysis, note: str) -> None:
        self._running.discard(generation_id)
        self.analyses[generation_id] = analysis
        if note:
            self.problems[generation_id] = note
            self.status_message.emit(note)
        self._update_row(generation_id)
        self._update_status()

    def _on_failed(self, generation_id: int, message: str) -> None:
        self._running.discard(generation_id)
        self.problems[generation_id] = message
        self._update_row(generation_id)
        self._update_status()
        self.status_message.emit(message)

    @Slot(object)
    def _on_generation_added(self, _generation) -> None:
        self.refresh()

    # -- selection and actions ------------------------------------------------------------
    def selected_id(self) -> int | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.item(rows[0].row(), 0).data(ID_ROLE) if rows else None

    def selected(self):
        gid = self.selected_id()
        return self._generations.get(gid) if gid is not None else None

    def select(self, generation_id: int) -> bool:
        row = self._row_of(generation_id)
        if row < 0:
            return False
        self.view.selectRow(row)
        return True

    @Slot()
    def _update_buttons(self, *_args) -> None:
        has = self.selected() is not None
        for button in (self.play_button, self.analyse_button, self.restore_button,
                       self.add_to_bin_button, self.folder_button):
            button.setEnabled(has)
        self.export_button.setEnabled(has and self.export_queue is not None)

    def _selected_on_disk(self):
        """The selected generation when its file is there (else None, and why is said)."""
        g = self.selected()
        if g is not None and not Path(g.path).is_file():
            self._say(f"{g.path}: file not found")
            return None
        return g

    @Slot()
    def play_selected(self) -> bool:
        g = self._selected_on_disk()
        if g is None:
            return False
        frames = g.info.frame_count if g.info is not None else int(g.params.get("num_frames")
                                                                    or 0)
        fps = g.info.fps if g.info is not None else float(g.params.get("fps") or 0.0)
        self.play_requested.emit(g.path, frames, fps)
        return True

    @Slot()
    def add_selected_to_bin(self) -> bool:
        """Ask for the selected generation to be imported as a clip (``add_to_bin_requested``)."""
        g = self._selected_on_disk()
        if g is None:
            return False
        self.add_to_bin_requested.emit(g.path)
        return True

    @Slot()
    def analyse_selected(self) -> bool:
        """Ask for the selected generation's analysis (``analyse_requested``)."""
        g = self._selected_on_disk()
        if g is None:
            return False
        self.analyse_requested.emit(g)
        return True

    @Slot()
    def restore_selected(self):
        """Emit the selected generation's settings (GenerationParams); the params, or None."""
        g = self.selected()
        if g is None:
            return None
        from studio.core.params import GenerationParams, ParamsError

        try:
            params = GenerationParams.from_dict(g.params)
        except (ParamsError, TypeError, ValueError) as err:
            self._say(f"Cannot restore the settings of generation #{g.id}: {err}")
            return None
        self.restore_requested.emit(params)
        return params

    def export_source(self, g):
        """The export dialog's source for generation ``g``: its sidecar's settings (the full
        record) as metadata, or the project's settings when it has no readable sidecar."""
        from studio.ui.export_dialog import ExportSource

        metadata = None
        try:
            data = read_sidecar(g.path)
        except ValueError:
            data = None
        if data is not None and isinstance(data.get("settings"), dict):
            metadata = data["settings"]
        if metadata is None:
            metadata = {"prompt": g.prompt, "model": g.model, "mode": g.kind,
                        "params": dict(g.params)}
        return ExportSource(path=g.path, label=Path(g.path).name, stem=Path(g.path).stem,
                            frame_count=g.info.frame_count if g.info is not None else None,
                            metadata=metadata)

    @Slot()
    def export_selected(self):
        """Open the export dialog with the selected generation as its source; the dialog."""
        g = self.selected()
        if g is None or self.export_queue is None:
            return None
        from studio.ui.export_dialog import ExportDialog

        if self._export_dialog is not None:
            self._export_dialog.shutdown()
            self._export_dialog.deleteLater()
        dialog = ExportDialog([self.export_source(g)], self.export_queue(), self,
                              default_folder=self.project.exports_dir)
        self._export_dialog = dialog
        dialog.show()
        return dialog

    @Slot()
    def show_selected_in_folder(self) -> bool:
        g = self.selected()
        if g is None:
            return False
        folder = Path(g.path).parent
        if not folder.is_dir():
            self._say(f"{folder}: folder not found")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(os.fspath(folder)))

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status_message.emit(text)

    def shutdown(self) -> None:
        self._cancel.cancel()
        self.analysis_pool.clear()
        self.thumb_pool.clear()
        self.analysis_pool.waitForDone(10_000)
        self.thumb_pool.waitForDone(10_000)
        if self._export_dialog is not None:
            self._export_dialog.shutdown()
