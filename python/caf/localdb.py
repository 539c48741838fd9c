"""Local conditions databases (include/caf/localdb.h): basf2-compatible folders of database.txt plus
payload files. Opening, lookup, the checker and the all-or-nothing commit are libcaf's."""
import json
import os
from typing import Any, Iterable, List, NamedTuple, Optional

from caf import _caf
from caf.iov import IoV, RunLike, as_exprun, as_iov, gaps


class Entry(NamedTuple):
    """One line of database.txt: payload name, revision, IoV and the 1-based line number."""

    name: str
    revision: str
    iov: IoV
    line: int


class Payload(NamedTuple):
    """A payload to commit: data (a dict or list, stored as JSON; or bytes, stored with ext), or the
    file at path (its extension is the format)."""

    name: str
    iov: Any
    data: Any = None
    path: Optional[str] = None
    ext: Optional[str] = None


def _entry(t) -> Entry:
    name, revision, iov, line = t
    return Entry(name, revision, IoV(*iov), line)


def _staged(p: Payload):
    """The (name, iov, ext, data, path) tuple caf._caf.LocalDB.commit takes."""
    iov = as_iov(p.iov)
    if p.path is not None:
        if p.data is not None:
            raise _caf.InvalidError(f"payload {p.name}: give data or path, not both")
        return (p.name, iov, None, None, os.fspath(p.path))
    if isinstance(p.data, (bytes, bytearray, memoryview)):
        return (p.name, iov, p.ext or "bin", bytes(p.data), None)
    try:
        text = json.dumps(p.data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise _caf.InvalidError(f"payload {p.name}: not JSON-serialisable: {e}") from None
    return (p.name, iov, p.ext or "json", text.encode(), None)


class Database:
    """A local conditions database folder (or its database.txt). Database(path, create=True) makes an
    empty one when missing. A malformed line raises caf.FormatError with "FILE:LINE: reason"."""

    def __init__(self, path, create: bool = False):
        self._db = _caf.LocalDB(os.fspath(path), create)

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"caf.Database({self.path!r})"

    @property
    def path(self) -> str:
        """The database's folder."""
        return self._db.dir

    def close(self) -> None:
        self._db.close()

    def reload(self) -> None:
        """Re-reads database.txt (after another process committed)."""
        self._db.reload()

    def entries(self) -> List[Entry]:
        """Every payload line, in file order."""
        return [_entry(t) for t in self._db.entries()]

    def names(self) -> List[str]:
        """The payload names, sorted."""
        return sorted({e.name for e in self.entries()})

    def find(self, name: str, run: RunLike) -> Optional[Entry]:
        """The entry that applies to name at run (the last line whose IoV contains it), or None."""
        t = self._db.find(name, as_exprun(run))
        return _entry(t) if t else None

    def _require(self, name: str, run: RunLike) -> Entry:
        r = as_exprun(run)
        e = self.find(name, r)
        if e is None:
            raise _caf.NotFoundError(f"{self.path}: no payload {name} for run {r}")
        return e

    def payload_path(self, name: str, run: RunLike) -> str:
        """The payload file of name at run; caf.NotFoundError when no line applies or the file is gone."""
        return self._db.payload_path(self._require(name, run).line)

    def entry_path(self, entry: Entry) -> str:
        """The payload file of an entry of this database."""
        return self._db.payload_path(entry.line)

    def read_bytes(self, name: str, run: RunLike) -> bytes:
        with open(self.payload_path(name, run), "rb") as f:
            return f.read()

    def read_json(self, name: str, run: RunLike) -> Any:
        """The JSON payload of name at run, decoded (a dict for caf's algorithm payloads)."""
        path = self.payload_path(name, run)
        with open(path, "rb") as f:
            try:
                return json.load(f)
            except ValueError as e:
                raise _caf.FormatError(f"{path}: not JSON: {e}") from None

    def gaps(self, name: str, span) -> List[IoV]:
        """The IoVs inside span that no payload of name covers (as `caf db gaps DB NAME --span`)."""
        return gaps([e.iov for e in self.entries() if e.name == name], span)

    def commit(self, payloads: Iterable[Payload]) -> List[Entry]:
        """Adds every payload or none (one caf_db_commit), atomically and under the database's lock;
        returns the new entries."""
        staged = [_staged(p if isinstance(p, Payload) else Payload(*p)) for p in payloads]
        before = len(self._db.entries())
        self._db.commit(staged)
        return self.entries()[before:]

    def check(self) -> List[str]:
        """The problems `caf db check` reports, as "FILE:LINE: reason" strings (empty when healthy)."""
        return check_database(self.path)


def check_database(path) -> List[str]:
    """Checks the database at path without stopping at the first problem (caf_localdb_check)."""
    return _caf.localdb_check(os.fspath(path))
