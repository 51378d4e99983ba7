"""Loading agentgateway's golden translation vectors (a `.snap` is a YAML header, then JSON or SSE text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parents[2].parent / "shared" / "agentgateway-examples" / "translation-vectors"


def snap_body(path: Path) -> str:
    """The text after the snapshot's YAML header (`---` header `---` body)."""
    text = path.read_text()
    _, _, rest = text.partition("---\n")
    _, _, body = rest.partition("\n---\n")
    return body


def snap_json(path: Path) -> Any:
    return json.loads(snap_body(path))


def split_stream_snap(path: Path) -> tuple[str, Any]:
    """A streaming snapshot: the SSE text the client got, then a JSON summary after a blank gap."""
    body = snap_body(path)
    sse, _, summary = body.rpartition("\n\n\n\n")
    return sse, json.loads(summary) if summary.strip() else None


def vector_files(subdir: str, suffix: str) -> list[Path]:
    folder = VECTORS / subdir
    return sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []


def vector_name(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)]
