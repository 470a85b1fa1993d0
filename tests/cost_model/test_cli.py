"""cost_model/cli.py: ``python -m cost_model`` writes the page's block and refuses what it
cannot read."""

from __future__ import annotations

from pathlib import Path

from cost_model.cli import main
from cost_model.page import BEGIN, END


def test_write_replaces_only_the_generated_block(tmp_path: Path):
    page = tmp_path / "sizing.md"
    page.write_text(f"# Sizing\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore prose\n")
    assert main(["--write", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Sizing\n\nprose\n\n") and text.endswith("\n\nmore prose\n")
    assert "old" not in text and "### The table" in text
    page.write_text("no markers")
    assert main(["--write", str(page)]) == 2


def test_results_without_the_figures_or_no_results_are_refused(tmp_path: Path):
    (tmp_path / "empty.json").write_text("[]")
    assert main(["--results", str(tmp_path / "empty.json")]) == 2
    assert main(["--results", str(tmp_path / "none.json")]) == 2
