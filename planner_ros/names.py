"""Object names as people write them, normalised for matching: case, '_' and '-' do not matter."""
from __future__ import annotations

__all__ = ["normalise_name"]


def normalise_name(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())
