"""The README as a new user meets it: its Quick start, and every file its commands name exists in a clone."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> str:
    return README.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_quick_start_gives_the_two_commands_and_how_to_change_the_port():
    section = quick_start()
    commands = [line for block in shell_blocks(section) for line in block.splitlines() if line.strip()]
    assert commands == ["pip install -r requirements.txt && python app.py", "python -m pytest -q"]
    assert "7860" in section and "GRADIO_SERVER_PORT=" in section


def test_every_repository_path_in_the_readmes_commands_exists():
    """Paths under docs/, presets/, bench/ and tests/ named by a command, with $E expanded as the README sets it."""
    named = set()
    for block in shell_blocks(README):
        variables = dict(re.findall(r"^(\w+)=(\S+)", block, flags=re.M))
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for word in words:
                for name, value in variables.items():
                    word = word.replace(f"${name}", value)
                if re.match(r"(docs|presets|bench|tests)/", word):
                    named.add(word)
    assert len(named) >= 10, named  # the examples do use the repository's own files
    missing = sorted(p for p in named if not (ROOT / p).exists() and not p.startswith("docs/convergence"))
    assert not missing, f"the README's commands name files a clone does not have: {missing}"


def test_nothing_points_outside_the_repository():
    beside = "../" + "shared"  # a folder some checkouts happen to have next to the repository
    skipped = {".git", "outputs", "__pycache__", ".pytest_cache", ".hypothesis", "results"}
    found = []
    for path in ROOT.rglob("*"):
        if skipped & set(path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix in {".py", ".md", ".txt", ".toml", ".cfg", ".json", ".yml", ".yaml", ""} or path.name == "run":
            if beside in path.read_text(encoding="utf-8", errors="replace"):
                found.append(str(path.relative_to(ROOT)))
    assert not found, f"files that refer to a folder beside the repository: {found}"
