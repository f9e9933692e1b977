"""The files source: a CSV or JSON Lines export, indexed by identifier, reloaded when it changes."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from connector.identifiers import normalise
from connector.sources.base import (
    BuildContext,
    IdentifierKind,
    Identifiers,
    SourceConfig,
    SourceError,
)
from connector.sources.mapping import MappedSource

Row = dict[str, Any]
Index = dict[tuple[str, str], list[Row]]


class FilesConfig(SourceConfig):
    """A file dropped by another system (a POS export, a helpdesk history dump)."""

    type: Literal["files"]
    path: str
    format: Literal["csv", "jsonl"] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    match: dict[IdentifierKind, str] = Field(min_length=1)


class FilesSource(MappedSource):
    """Rows of a file whose identifier columns match the customer; `rows` in the mapping."""

    config: FilesConfig

    def __init__(self, name: str, config: FilesConfig, context: BuildContext) -> None:
        super().__init__(name, config)
        path = Path(config.path)
        self.path = path if path.is_absolute() else context.manifest_dir / path
        self._region = context.default_region
        self._format = config.format or ("jsonl" if self.path.suffix == ".jsonl" else "csv")
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._index: Index = {}

    def find(self, ids: Identifiers) -> dict[str, list[Row]] | None:
        """Every row matching any of the customer's identifiers, in file order."""
        index = self._current_index()
        seen: set[int] = set()
        rows: list[tuple[int, Row]] = []
        for kind in self.config.match:
            for value in ids.of(kind, self.name):
                for row in index.get((kind, value), []):
                    if id(row) not in seen:
                        seen.add(id(row))
                        rows.append((row["__line"], row))
        if not rows:
            return None
        return {"rows": [r for _, r in sorted(rows, key=lambda pair: pair[0])]}

    def _current_index(self) -> Index:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise SourceError("file not found", f"{self.path}: {exc}") from exc
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._index = self._build_index(self._read_rows())
                self._stamp = stamp
            return self._index

    def _read_rows(self) -> list[Row]:
        try:
            with self.path.open(encoding=self.config.encoding, newline="") as handle:
                if self._format == "csv":
                    return list(csv.DictReader(handle, delimiter=self.config.delimiter))
                return [json.loads(line) for line in handle if line.strip()]
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
            raise SourceError("file unreadable", f"{self.path}: {exc}") from exc

    def _build_index(self, rows: list[Row]) -> Index:
        index: Index = {}
        for line, row in enumerate(rows):
            row["__line"] = line
            for kind, column in self.config.match.items():
                raw = row.get(column)
                value = normalise(kind, raw, self._region) if raw else None
                if value:
                    index.setdefault((kind, value), []).append(row)
        return index
