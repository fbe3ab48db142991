"""underthesea's text normalizer and word segmenter, imported without the rest of the package.

`import underthesea` runs the package's `__init__`, which imports its part-of-speech tagger, named
entity recognizer and chunker and the dictionaries they load: about 90 MB of a process's memory
(measured with PSS, December 2026), for models phananh never calls. The normalizer and the segmenter
import on their own in about 31 MB. So the package is registered here without running its
`__init__`; the two modules are imported from it. Code that later asks the package for anything
else (`underthesea.pos_tag`, say) gets the whole package then: the `__init__` runs on that first
access, as it would have at import.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

PACKAGE = "underthesea"


class _Package(types.ModuleType):
    """The package module before its `__init__` ran; runs it on the first attribute it lacks."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # once: the real __init__ fills the namespace now
        spec.loader.exec_module(self)
        return getattr(self, name)


def _register_bare_package() -> None:
    if PACKAGE in sys.modules:
        return  # imported whole already: nothing to save
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed", name=PACKAGE)
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Package
    sys.modules[PACKAGE] = module


def package_dir() -> Path:
    """Where underthesea is installed (its word list and address tables ship with it), found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed", name=PACKAGE)
    return Path(spec.origin).resolve().parent


_register_bare_package()

# The normalizer first: underthesea's own __init__ imports them in this order (the segmenter's regex
# tokenizer and the normalizer import each other).
from underthesea.pipeline.text_normalize import text_normalize  # noqa: E402
from underthesea.pipeline.word_tokenize import word_tokenize  # noqa: E402

__all__ = ["package_dir", "text_normalize", "word_tokenize"]
