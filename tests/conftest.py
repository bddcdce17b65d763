"""Test-wide settings: the list store lives in a temporary folder, never in the user's home."""

from __future__ import annotations

import os
import tempfile

# Set before any chipwatch module reads it; subprocesses started by the tests inherit it.
os.environ.setdefault("CHIPWATCH_HOME", tempfile.mkdtemp(prefix="chipwatch-test-home-"))
