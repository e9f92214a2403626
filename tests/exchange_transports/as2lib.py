"""pyas2lib, the reference AS2 implementation in Python, loaded for interoperability
tests only.

pyas2lib pins oscrypto 1.3.0, whose libcrypto version check reads the version with
``\\d\\.\\d\\.\\d`` and so fails on OpenSSL 3.0.10 and later ("Error detecting the
version of libcrypto"). The fix (``\\d+\\.\\d+\\.\\d+``) is on oscrypto's master but in no
release; here the two modules that hold the check are loaded from their own source with
that one pattern replaced, before anything imports oscrypto. Production code never
imports pyas2lib (see docs/decisions.md, "Document transports").
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_MODULES = ("oscrypto._openssl._libcrypto_cffi", "oscrypto._openssl._libcrypto_ctypes")
_OLD = "'\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d[a-z]*)\\\\b'"
_NEW = "'\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b'"


class _VersionFix(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: Any, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name not in _MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.origin is None:
            return None
        return importlib.util.spec_from_file_location(name, spec.origin, loader=self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        origin = module.__spec__.origin if module.__spec__ else None
        assert origin is not None
        source = Path(origin).read_text(encoding="utf-8")
        if _OLD in source:
            source = source.replace(_OLD, _NEW)
        exec(compile(source, origin, "exec"), module.__dict__)


def load() -> ModuleType:
    """``pyas2lib.as2``; skips the test when pyas2lib is not installed."""
    import pytest

    if importlib.util.find_spec("pyas2lib") is None:
        pytest.skip("pyas2lib is not installed (the dev extra brings it)")
    if not any(isinstance(f, _VersionFix) for f in sys.meta_path):
        sys.meta_path.insert(0, _VersionFix())
    from pyas2lib import as2

    return as2
