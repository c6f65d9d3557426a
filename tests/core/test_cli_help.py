"""Help that helps (issue 19, item 5): ``studio --help`` names every verb with a line on what it
does and an example; every verb's ``--help`` ends with examples, and every example is a command
line Studio's own parsers accept."""

from __future__ import annotations

import re
import shlex

import pytest

from studio import cli
from studio.cli import VERBS, main

ALL_VERBS = [*VERBS, "models list", "models pull", "models make-demo", "desktop install",
             "desktop uninstall"]


def help_of(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def examples_of(text: str) -> list[str]:
    block = text.split("\nexamples:\n", 1)[1]
    return [line.strip() for line in block.split("\n\n", 1)[0].splitlines() if line.strip()]


def test_studio_help_lists_each_verb_with_a_line_and_an_example(capsys):
    text = help_of(capsys)
    for verb in VERBS:
        match = re.search(rf"^  {verb} +(\S.{{20,}})\n +(studio {verb} .+)$", text, re.M)
        assert match, f"{verb} is not listed with a line and an example:\n{text}"
    assert "--progress" in text and "-v" in text


@pytest.mark.parametrize("verb", ALL_VERBS)
def test_each_verbs_help_ends_with_examples_of_it(verb, capsys):
    text = help_of(capsys, *verb.split())
    examples = examples_of(text)
    assert examples and any(e.startswith(f"studio {verb}") for e in examples), text
    assert "--progress" in text and "--quiet" in text
    # the description is argparse's wrapped paragraph, not one long line
    assert max(len(line) for line in text.split("\nexamples:\n")[0].splitlines()) <= 120


def test_every_example_is_a_command_line_studio_accepts(capsys):
    examples = {e for verb in ALL_VERBS
                for e in examples_of(help_of(capsys, *verb.split()))}
    examples |= set(examples_of(help_of(capsys)))
    assert len(examples) >= 15
    for example in sorted(examples):
        argv = shlex.split(example)
        argv = argv[argv.index("studio") + 1:]  # after sudo
        argv = argv[: argv.index(">")] if ">" in argv else argv
        if argv and argv[0] in VERBS:
            cli._verb_parser().parse_args(argv)  # SystemExit(2) if not
        else:
            cli._gui_parser().parse_args(argv)


def test_the_window_start_builds_no_parser(monkeypatch):
    """The help text is built only when asked for: the plain start-up reads its arguments
    without argparse (bench/startup*.py measure that path)."""
    def refuse():
        raise AssertionError("a parser was built")

    monkeypatch.setattr(cli, "_gui_parser", refuse)
    monkeypatch.setattr(cli, "_gui_epilog", refuse)
    monkeypatch.setattr(cli, "_verb_guide", refuse)
    assert cli._plain_gui_args(["--project", "x", "a.mp4"]) is not None
