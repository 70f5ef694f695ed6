"""Atomic writes: the file is whole or untouched, and no temporary file is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.errors import first_line
from labkit.files import write_atomic


def test_write_atomic_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "results.json"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_first_line_skips_blank_lines_and_names_an_empty_error() -> None:
    assert first_line(ValueError("\n  shapes differ \nand more")) == "shapes differ"
    assert first_line(KeyError()) == "KeyError"
    assert len(first_line("x" * 1000)) == 300
