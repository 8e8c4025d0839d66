"""Engines for tests: a bare policy (a home region, no rules) or a policy text of the test's."""

from __future__ import annotations

import json
from typing import Iterable, Optional

import fraudcore


def policy(text: str, base_dir: Optional[str] = None, name: str = "test.toml", plan=None):
    """A policy compiled from `text`."""
    return fraudcore.Policy.from_str(text, name=name, base_dir=base_dir, plan=plan)


def bare(
    region: str = "KZ",
    international_prefixes: Iterable[str] = (),
    *,
    overlay: Optional[str] = None,
    rules: str = "",
    plan=None,
) -> fraudcore.Engine:
    """An engine that only reads numbers as `region` does: no lists, and `rules` (TOML)."""
    text = f"home_region = {json.dumps(region)}\n"
    text += f"international_prefixes = {json.dumps(list(international_prefixes))}\n"
    if overlay:
        text += f"overlay = {json.dumps(overlay)}\n"
    return fraudcore.Engine(policy(text + rules, plan=plan))
