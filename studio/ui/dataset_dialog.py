"""File > Export Training Set…: choose a folder, a layout and which clips; the export runs on the
shared worker pool (``core.dataset.write_training_set``, the writer of every training set, File >
Export…'s too) with progress and Cancel, and ends with a summary in the dialog. The captions
are the project's saved ones, never an editor's unsaved text. Never a message-box storm:
every problem is a line in the dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.cancel import CancelToken
from studio.core.library import Project
from studio.ui.workers import Workers


class ExportFailed(Exception):
    """The export wrote nothing: the message names the folder or file."""


def write_items(items: list, folder: str, layout: str, cancel: CancelToken, *, report):
    """A pool thread (``Workers.run(..., reports=True)``): write the training set, calling
    ``report`` with (items done, items total, current file name); returns the
    ``core.dataset.TrainingSetReport`` or raises ``ExportFailed``."""
    from studio.core.dataset import write_training_set
    from studio.core.export import ExportError

    try:
        result = write_training_set(items, folder, layout, cancel=cancel,
                                    on_item=lambda *progress: report(progress))
    except ExportError as err:
        raise ExportFailed(str(err)) from err
    except Exception as err:  # noqa: BLE001 - shown in the dialog, never a traceback
        raise ExportFailed(f"{folder}: export failed ({type(err).__name__}: {err})") from err
    if result.error:  # the folder: nothing was written
        raise ExportFailed(result.error)
    return result


class DatasetExportDialog(QDialog):
    """Export captioned clips. ``selected_ids``: the clips selected in the bin."""

    export_finished = Signal(object)  # the TrainingSetReport, or None when it failed

    def __init__(self, project: Project, selected_ids: list[int], parent=None,
                 folder: str | None = None, layout: str = "diffusion-pipe"):
        super().__init__(parent)
        self.setObjectName("DatasetExportDialog")
        self.setWindowTitle("Export Training Set")
        self.project = project
        self.selected_ids = list(selected_ids)
        self.report = None
        self.error: str | None = None
        self._cancel: CancelToken | None = None
        self._pool = Workers(self, limit=1, long=True)

        self.folder_edit = QLineEdit(folder or str(project.exports_dir / "training-set"), self)
        self.folder_edit.setObjectName("DatasetFolder")
        self.folder_edit.setAccessibleName("Training set folder")
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)

        layout_box = self._layout_choices(layout)

        scope_box = self._scope_choices()

        note = QLabel("Clips with in/out points are trimmed to that range (re-encoded as "
                      "H.264); others are copied as they are. Existing files are never "
                      "overwritten.", self)
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(mid);")

        form = QFormLayout()
        form.addRow("Folder", folder_row)
        form.addRow("Layout", _boxed(layout_box, self))
        form.addRow("Clips", _boxed(scope_box, self))

        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("DatasetProgress")
        self.progress_bar.hide()
        self.result_label = QLabel(self)
        self.result_label.setObjectName("DatasetResult")
        self.result_label.setAccessibleName("Export result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()

        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.open_button = self.buttons.addButton("Open Folder",
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.hide()
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.open_button.clicked.connect(self._open_folder)
        self.close_button.clicked.connect(self.reject)

        layout_ = QVBoxLayout(self)
        layout_.addLayout(form)
        layout_.addWidget(note)
        layout_.addWidget(self.progress_bar)
        layout_.addWidget(self.result_label)
        layout_.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())

    def _layout_choices(self, chosen: str) -> QVBoxLayout:
        """A radio button for each layout of ``core.dataset`` that copies the clips."""
        from studio.core.dataset import COPY_LAYOUTS, LAYOUTS

        self.layout_group = QButtonGroup(self)
        box = QVBoxLayout()
        self.layout_buttons: dict[str, QRadioButton] = {}
        for key in COPY_LAYOUTS:
            button = QRadioButton(LAYOUTS[key].title, self)
            button.setProperty("layout", key)
            self.layout_group.addButton(button)
            box.addWidget(button)
            self.layout_buttons[key] = button
        self.layout_buttons.get(chosen, self.layout_buttons[COPY_LAYOUTS[0]]).setChecked(True)
        return box

    def _scope_choices(self) -> QVBoxLayout:
        """The selected clips, or all captioned ones."""
        captioned = self._captioned_ids()
        selected_captioned = [i for i in self.selected_ids if i in captioned]
        self.scope_selected = QRadioButton(
            f"Selected clips ({len(selected_captioned)} of {len(self.selected_ids)} captioned)", self)
        self.scope_all = QRadioButton(f"All captioned clips ({len(captioned)})", self)
        self.scope_group = QButtonGroup(self)
        self.scope_group.addButton(self.scope_selected)
        self.scope_group.addButton(self.scope_all)
        (self.scope_selected if self.selected_ids else self.scope_all).setChecked(True)
        self.scope_selected.setEnabled(bool(self.selected_ids))
        box = QVBoxLayout()
        box.addWidget(self.scope_selected)
        box.addWidget(self.scope_all)
        return box

    # -- options ------------------------------------------------------------------------
    def _captioned_ids(self) -> set[int]:
        ids = set()
        for clip in self.project.clips():
            caption = self.project.current_caption(clip.id)
            if caption is not None and caption.text.strip():
                ids.add(clip.id)
        return ids

    @property
    def layout_key(self) -> str:
        return self.layout_group.checkedButton().property("layout")

    def set_layout(self, key: str) -> None:
        self.layout_buttons[key].setChecked(True)

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the training set into",
                                                  self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def clip_ids(self) -> list[int] | None:
        """The clips to export (None: every clip in the project)."""
        return self.selected_ids if self.scope_selected.isChecked() else None

    # -- running --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._cancel is not None

    @Slot()
    def start_export(self) -> None:
        from studio.core.dataset import items_from_project

        if self.running:
            return
        folder = self.folder_edit.text().strip()
        if not folder:
            self._show_result("Choose a folder to export into.", error=True)
            return
        items = items_from_project(self.project, self.clip_ids())
        if not any((i.caption or "").strip() for i in items):
            self._show_result("None of these clips has a caption yet: caption them first.",
                              error=True)
            return
        self.report, self.error = None, None
        self._cancel = CancelToken()
        self.export_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self.open_button.hide()
        self.result_label.hide()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("Starting…")
        self.progress_bar.show()
        self._pool.run(write_items, items, str(Path(folder).expanduser()), self.layout_key,
                       self._cancel, reports=True, yielded=self._on_progress,
                       returned=self._on_finished, errored=self._on_failed)

    @Slot()
    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self.progress_bar.setFormat("Cancelling…")

    @Slot(object)
    def _on_progress(self, progress: tuple) -> None:
        done, total, name = progress
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done}/{total} · {name}" if name else f"{done}/{total}")

    @Slot(object)
    def _on_finished(self, report) -> None:
        self._done()
        self.report = report
        self._show_result(report.summary(), error=bool(report.failed))
        if report.failed:
            self.result_label.setToolTip("\n".join(m for _, m in report.failed[:30]))
        self.open_button.setVisible(bool(report.exported))
        self.export_finished.emit(report)

    @Slot(object)
    def _on_failed(self, err: Exception) -> None:
        message = str(err)
        self._done()
        self.error = message
        self._show_result(message, error=True)
        self.export_finished.emit(None)

    def _done(self) -> None:
        self._cancel = None
        self.progress_bar.hide()
        self.export_button.setEnabled(True)
        self.export_button.setText("Export Again")
        self.close_button.setText("Close")

    def _show_result(self, text: str, error: bool) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet("color: #e0604f;" if error else "")
        self.result_label.show()

    @Slot()
    def _open_folder(self) -> None:
        if self.report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report.folder)))

    def reject(self) -> None:
        """Close; while exporting, the first press cancels (what is finished stays)."""
        if self.running:
            self.cancel()
            return
        super().reject()

    def shutdown(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
        self._pool.waitForDone(10000)

    def closeEvent(self, event) -> None:
        if self.running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)


def _boxed(layout, parent) -> QWidget:
    box = QWidget(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    box.setLayout(layout)
    return box
