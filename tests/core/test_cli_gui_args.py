"""The GUI's command line: the start-up fast path reads what argparse would, or leaves it."""

from __future__ import annotations

import pytest

from studio.cli import _gui_parser, _plain_gui_args

PLAIN = [
    [],
    ["--exit-after-show"],
    ["--project", "/some/dir"],
    ["--project=/some/dir", "a.mp4", "clips"],
    ["a.mp4", "b.gif", "--exit-after-show", "--project", "d"],
    ["--exit-after-show", "a.mp4", "b.gif"],
    ["--project", "a", "--project", "b"],
]
LEFT_TO_ARGPARSE = [
    ["--help"], ["-h"], ["--version"], ["--project"], ["--project", "--exit-after-show"],
    ["--project="], ["--"], ["--", "-odd.mp4"], ["--proj", "x"], ["--exit"], ["-"],
    ["--unknown"], ["a.mp4", "--exit-after-show", "b.mp4"],
]


@pytest.mark.parametrize("argv", PLAIN)
def test_plain_arguments_read_as_argparse_reads_them(argv):
    fast = _plain_gui_args(argv)
    assert fast is not None
    assert vars(fast) == vars(_gui_parser().parse_args(argv))


@pytest.mark.parametrize("argv", LEFT_TO_ARGPARSE)
def test_anything_else_is_left_to_argparse(argv):
    assert _plain_gui_args(argv) is None
