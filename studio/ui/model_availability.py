"""Which known models are on this computer, for the model lists of the caption and prompt
panels: a hub model that is not downloaded (or a demo model not built) says so in the list,
before a job fails on it.

The check runs on the shared worker pool (a superqt worker, ``studio.ui.workers``): scanning
the Hugging Face cache imports huggingface_hub and reads the disk. Its answer comes back to a
bound slot in the GUI thread (DESIGN.md, threading rules). One per application: ``model_availability()``.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QComboBox

from studio.ui.workers import Workers


def _scan() -> frozenset[str] | None:
    """A pool thread (``Workers.run``): the ids of the models that are here, or None (no
    answer: the lists stay as they are)."""
    try:
        from studio.inference import loading

        return frozenset(m.id for m in loading.cached_models())
    except Exception:  # noqa: BLE001 - no answer
        return None


class ModelAvailability(QObject):
    """The ids of the models that are here, as of the last check (``refresh``)."""

    changed = Signal()
    # a combo a person had not chosen in moved from a model that is not here to one that is:
    # what it says (the main window shows it in the status bar; the combo's tooltip keeps it)
    default_moved = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._here: frozenset[str] | None = None
        self._scanning = False
        self._again = False
        self._workers = Workers(self)
        self._combos: list[QComboBox] = []  # kept marked (``keep_marked``)

    def refresh(self) -> None:
        """Look again (a model may have been pulled or built meanwhile); ``changed`` follows."""
        if self._scanning:
            self._again = True
            return
        self._scanning = True
        self._workers.run(_scan, returned=self._on_found)

    def keep_marked(self, combo: QComboBox) -> None:
        """Mark ``combo``'s models now (``mark_missing_models``) and after every look, and look
        again each time its list opens (a model pulled in a terminal meanwhile loses its mark
        while the list is open)."""
        self._combos.append(combo)
        mark_missing_models(combo, self)
        combo.view().installEventFilter(self)
        # a person's choice (from the list) stays, here or not
        combo.activated.connect(lambda _i, c=combo: c.setProperty("model_chosen", True))
        if self.checked and not combo.property("model_chosen"):  # a panel built after a look
            said = choose_present_model(combo, self)
            if said:
                self.default_moved.emit(said)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Show:
            self.refresh()
        return False

    @property
    def checked(self) -> bool:
        return self._here is not None

    def is_here(self, model_id: str) -> bool | None:
        """Whether ``model_id`` is here; None before the first answer."""
        return None if self._here is None else model_id in self._here

    @Slot(object)
    def _on_found(self, here) -> None:
        self._scanning = False
        if here is not None:
            self._here = here
            self._combos = [combo for combo in self._combos if shiboken6.isValid(combo)]
            for combo in self._combos:
                mark_missing_models(combo, self)
                if not combo.property("model_chosen"):
                    said = choose_present_model(combo, self)
                    if said:
                        self.default_moved.emit(said)
            self.changed.emit()
        if self._again:
            self._again = False
            self.refresh()


_availability: ModelAvailability | None = None


def model_availability() -> ModelAvailability:
    """The application's ``ModelAvailability``, made on first use (no check yet: ``refresh``)."""
    global _availability
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("model_availability() needs a QApplication")
    if (_availability is None or not shiboken6.isValid(_availability)
            or _availability.parent() is not app):
        _availability = ModelAvailability(app)
    return _availability


def mark_missing_models(combo: QComboBox, availability: ModelAvailability) -> None:
    """Title each known model of ``combo`` (item data: its id) as the registry does, with
    "— not downloaded" for a hub model that is not here and "— not built" for a demo model,
    and a tooltip saying how to get it. Other items (local folders) are left alone."""
    from PySide6.QtCore import Qt

    from studio.inference import registry

    for index in range(combo.count()):
        model_id = combo.itemData(index)
        spec = registry.get(model_id) if isinstance(model_id, str) else None
        if spec is None:
            continue
        if availability.is_here(model_id) is not False:
            combo.setItemText(index, spec.title)
            combo.setItemData(index, model_id, Qt.ItemDataRole.ToolTipRole)
        elif spec.demo:
            combo.setItemText(index, f"{spec.title} — not built")
            combo.setItemData(index, "Not built yet: studio models make-demo",
                              Qt.ItemDataRole.ToolTipRole)
        else:
            combo.setItemText(index, f"{spec.title} — not downloaded")
            combo.setItemData(index, f"Not on this computer: studio models pull {model_id}",
                              Qt.ItemDataRole.ToolTipRole)


def choose_present_model(combo: QComboBox, availability: ModelAvailability) -> str | None:
    """When ``combo``'s model is known not to be here, choose the first of its models that is
    (a downloaded one first, else a demo one: after ``studio models make-demo`` the panels
    defaulted to models "— not downloaded"), and say so in its tooltip; what it says, or None
    when nothing moved."""
    from studio.inference import registry

    current = combo.currentData()
    if not isinstance(current, str) or registry.get(current) is None \
            or availability.is_here(current) is not False:
        return None  # a local folder, a model that is here, or no answer yet
    here = [i for i in range(combo.count())
            if isinstance(combo.itemData(i), str) and availability.is_here(combo.itemData(i))]
    if not here:
        return None
    real = [i for i in here if not getattr(registry.get(combo.itemData(i)), "demo", False)]
    index = (real or here)[0]
    before = registry.get(current)
    chosen = registry.get(combo.itemData(index))
    only = "" if real else ", the only kind on this computer"
    text = (f"{chosen.title if chosen else combo.itemData(index)}{only}: "
            f"{before.title if before else current} is not here (studio models pull {current})")
    combo.setCurrentIndex(index)
    combo.setToolTip(f"Chosen because it is on this computer. {text}")
    return text
