"""The curated lexicon shipped with careroute: YAML package data in ``classify/lexicon/``.

Read once per process (``load_lexicon`` is cached); everything after this is pure.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

LEXICON_FILES: tuple[str, ...] = (
    "danger",
    "requests",
    "context",
    "noise",
    "spanish",
    "creole",
    "french",
    "vietnamese",
    "portuguese",
    "labs",
    "prior_auth",
    "medications",
)


#: libyaml's safe loader when PyYAML was built with it (the lexicon is 4,000 lines: the pure-Python parser
#: spent half of every process's rule loading on it), else the pure-Python one; both build the same data.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load_lexicon() -> dict[str, Any]:
    """Every lexicon file by name ("danger", "requests", ...), parsed but not yet validated."""
    root = resources.files("careroute.classify").joinpath("lexicon")
    out: dict[str, Any] = {}
    for name in LEXICON_FILES:
        text = root.joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        data = yaml.load(text, Loader=SAFE_LOADER)  # a safe loader: libyaml's where present
        if not isinstance(data, dict):
            raise RuntimeError(f"classify/lexicon/{name}.yaml is not a mapping")
        out[name] = data
    return out
