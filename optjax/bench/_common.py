"""Shared helpers: run metadata, name validation, JSON output and tables."""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jax


class BenchUsageError(ValueError):
    """Bad command-line input (unknown name, bad size); the CLI exits with status 2."""


def pick(kind: str, requested: str | None, choices: Sequence[str], default: Sequence[str]):
    """Validates a comma-separated list of names against ``choices``; ``None`` gives ``default``."""
    if requested is None:
        return list(default)
    names = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        what = ", ".join(unknown) if unknown else "(none)"
        raise BenchUsageError(f"unknown {kind} {what}; choose from: {', '.join(choices)}")
    return names


def loadavg() -> float | None:
    """The 1-minute load average (``None`` where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def meta(**extra: Any) -> dict[str, Any]:
    """Device, versions, date and load: what every results file starts with."""
    import flax
    import optax

    import optjax

    device = jax.devices()[0]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": f"{device.platform}: {device.device_kind}",
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "optjax": getattr(optjax, "__version__", "dev"),
        "loadavg_start": loadavg(),
        **extra,
    }


def write_json(path: str | os.PathLike | None, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as indented JSON to ``path`` (no-op for ``None``)."""
    if path is None:
        return
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    payload["meta"]["loadavg_end"] = loadavg()
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-markdown table; floats are printed as they come (format them first)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
