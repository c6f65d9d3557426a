"""Where captions and generations run: this computer or a Ray cluster (issue 18, item 4).

``RunOnChoice`` is the one choice of the window (the caption panel's Caption buttons and the
generation queue follow it), kept in the UI settings with the cluster's address;
``RunOnCombo`` is its control, "Run on: This computer / Ray cluster at ADDRESS / Ray cluster
address…".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from studio.ui.wheel_guard import ComboBox

ADDRESS_KEY = "cluster/address"
ON_CLUSTER_KEY = "cluster/run_on_cluster"
ADDRESS_EXAMPLE = "ray://head-node:10001"
THIS_COMPUTER = "This computer"
SET_ADDRESS = "Ray cluster address…"


class RunOnChoice(QObject):
    """This computer or the Ray cluster at ``address``; remembered in ``settings()``."""

    changed = Signal()

    def __init__(self, settings: Callable[[], QSettings], parent: QObject | None = None):
        super().__init__(parent)
        self._settings = settings
        s = settings()
        self._address = str(s.value(ADDRESS_KEY, "") or "")
        self._on_cluster = bool(self._address) and s.value(ON_CLUSTER_KEY, False, bool)

    @property
    def address(self) -> str:
        return self._address

    @property
    def on_cluster(self) -> bool:
        return self._on_cluster

    def set_on_cluster(self, on: bool) -> None:
        """Run on the cluster (needs an address) or on this computer."""
        on = bool(on) and bool(self._address)
        if on != self._on_cluster:
            self._on_cluster = on
            self._settings().setValue(ON_CLUSTER_KEY, on)
            self.changed.emit()

    def set_address(self, address: str) -> None:
        """The cluster's address (auto, local or ray://HOST:PORT); ValueError naming the forms
        for anything else. Choosing an address chooses the cluster."""
        from studio.inference.cluster.connection import check_address

        self._address = check_address(address)
        self._on_cluster = True
        settings = self._settings()
        settings.setValue(ADDRESS_KEY, self._address)
        settings.setValue(ON_CLUSTER_KEY, True)
        self.changed.emit()


def chosen_runner(cluster_parts, manager):
    """Who runs the next job: the cluster manager when the window's choice is the cluster
    (``cluster_parts()`` gives the choice and the cluster manager; None: never), else
    ``manager``."""
    if cluster_parts is not None:
        choice, cluster = cluster_parts()
        if choice.on_cluster:
            return cluster
    return manager


class RunOnCombo(ComboBox):
    """The choice as a combo box: this computer, the cluster at the address kept, or a new
    address (asked in a dialog)."""

    def __init__(self, choice: RunOnChoice, parent: QWidget | None = None):
        super().__init__(parent)
        self.choice = choice
        self.setAccessibleName("Run on")
        self.setToolTip("Where captions and generations run: this computer, or the Ray "
                        "cluster at an address (auto, local or ray://HOST:PORT). Clip paths and "
                        "the model cache must be readable by every node")
        choice.changed.connect(self._refresh)
        self.activated.connect(self._on_activated)
        self._refresh()

    @Slot()
    def _refresh(self) -> None:
        self.blockSignals(True)
        self.clear()
        self.addItem(THIS_COMPUTER)
        if self.choice.address:
            self.addItem(f"Ray cluster at {self.choice.address}")
        self.addItem(SET_ADDRESS)
        self.setCurrentIndex(1 if self.choice.on_cluster else 0)
        self.blockSignals(False)

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        if self.itemText(index) == SET_ADDRESS:
            self.ask_address()
        else:
            self.choice.set_on_cluster(index == 1)

    def ask_address(self) -> None:
        """Ask for the cluster's address; a bad one is said and asked again."""
        text, error = self.choice.address or ADDRESS_EXAMPLE, ""
        while True:
            text, ok = QInputDialog.getText(
                self, "Ray cluster", f"{error}Address of the Ray cluster (auto, local, or "
                f"ray://HOST:PORT of its head node):", QLineEdit.EchoMode.Normal, text)
            if not ok:
                self._refresh()
                return
            try:
                self.choice.set_address(text)
                return
            except ValueError as err:
                error = f"The address {err}.\n\n"
