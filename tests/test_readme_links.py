"""The README links only to files in the repository (issue 16): it named ../shared/DESIGN.md,
which a clone does not have. Its images are there too, the workspaces' among them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _local_targets() -> list[str]:
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    return [t for t in links if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_every_local_link_names_a_file_in_the_repository():
    targets = _local_targets()
    assert targets
    for target in targets:
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), target


def test_no_path_outside_the_repository_is_named():
    assert not re.findall(r"\.\./[\w./-]+", README)


def test_each_workspace_has_its_screenshot():
    from studio.ui.workspaces import WORKSPACES

    for space in WORKSPACES:
        assert f"docs/workspace-{space.key}.png" in _local_targets()
