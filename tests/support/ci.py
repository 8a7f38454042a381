"""The CI rule for real parts a test needs: skip locally with a reason, fail in CI."""

from __future__ import annotations

import importlib.util
import os

import pytest

__all__ = ["require_module"]


def require_module(name: str, reason: str) -> None:
    """Module-level guard: without ``name`` importable, fail in CI (``CI`` set), else skip."""
    if importlib.util.find_spec(name) is not None:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"required for CI: {reason}")
    pytest.skip(reason, allow_module_level=True)
