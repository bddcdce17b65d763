"""Regenerate the chips table in README.md from the command written in its marker comment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"
PATTERN = re.compile(r"(<!-- chips-table: (chipwatch [^>]*?) -->\n)(.*?)(<!-- /chips-table -->)", re.S)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    m = PATTERN.search(text)
    if not m:
        raise SystemExit("README.md has no chips-table marker")
    args = m.group(2).split()[1:]
    table = subprocess.run([sys.executable, "-m", "chipwatch", *args], check=True, capture_output=True,
                           text=True).stdout
    README.write_text(text[: m.start()] + m.group(1) + table + m.group(4) + text[m.end():], encoding="utf-8")
    print(f"README.md: table regenerated with `{m.group(2)}`")


if __name__ == "__main__":
    main()
