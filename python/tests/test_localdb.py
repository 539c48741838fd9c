"""caf.Database over a real local database: what Python commits, `caf db check` accepts and `caf db
query/list/gaps` read back the same; the commit is all-or-nothing; broken databases raise caf.Error
subclasses carrying caf's FILE:LINE message."""
import os

import pytest

import caf
from caf import Database, IoV, Payload


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "db", create=True) as d:
        yield d


def test_commit_read_back_and_checked_by_caf(db, run_caf, tmp_path):
    gains = {"gains": [1.0, 1.25, 0.5], "note": "é"}
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    added = db.commit([
        Payload("Gains", IoV(1, 0, 1, 10), gains),
        Payload("Gains", "1,11,1,-1", {"gains": [2.0]}),
        Payload("Raw", IoV.always(), b"hello", ext="txt"),
        Payload("Blob", (2, 0, 2, -1), path=tmp_path / "blob.bin"),
    ])
    assert [(e.name, e.iov, e.line) for e in added] == [
        ("Gains", IoV(1, 0, 1, 10), 1), ("Gains", IoV(1, 11, 1, -1), 2), ("Raw", IoV.always(), 3),
        ("Blob", IoV(2, 0, 2, -1), 4)]
    assert db.check() == []
    run_caf("db", "check", db.path)  # the command agrees: exit 0
    assert db.read_json("Gains", (1, 3)) == gains
    assert db.read_json("Gains", "1.12") == {"gains": [2.0]}
    assert db.read_bytes("Raw", (5, 5)) == b"hello"
    assert db.payload_path("Blob", (2, 7)).endswith(".bin")
    # the command finds the same payload files for the same runs
    for name, run in [("Gains", (1, 3)), ("Gains", (1, 99)), ("Raw", (0, 0)), ("Blob", (2, 1))]:
        q = run_caf("db", "query", db.path, name, *run, "--json", json_output=True)
        assert os.path.samefile(q["file"], db.payload_path(name, run)), q
        assert IoV(*q["iov"]) == db.find(name, run).iov
    listed = run_caf("db", "list", db.path, "--json", json_output=True)
    assert [(e["name"], e["revision"]) for e in listed] == [(e.name, e.revision) for e in db.entries()]
    assert db.names() == ["Blob", "Gains", "Raw"]


def test_find_last_line_wins_and_misses(db):
    db.commit([Payload("A", IoV(0, 0, 0, -1), {"v": 1})])
    db.commit([Payload("A", IoV(0, 5, 0, 5), {"v": 2})])
    assert db.find("A", (0, 5)).line == 2 and db.read_json("A", (0, 5)) == {"v": 2}
    assert db.read_json("A", (0, 6)) == {"v": 1}
    assert db.find("A", (1, 0)) is None and db.find("B", (0, 0)) is None
    with pytest.raises(caf.NotFoundError, match=r"no payload A for run 1\.0"):
        db.read_json("A", (1, 0))


def test_gaps_match_the_command(db, run_caf):
    db.commit([Payload("G", IoV(0, 0, 0, 10), {}), Payload("G", IoV(0, 20, 0, 30), {}),
               Payload("H", IoV(0, 11, 0, 19), {})])
    span = IoV(0, 0, 0, 50)
    got = db.gaps("G", span)
    assert got == [IoV(0, 11, 0, 19), IoV(0, 31, 0, 50)]
    cmd = run_caf("db", "gaps", db.path, "G", "--span", str(span), "--json", json_output=True)
    assert got == [IoV(*g) for g in cmd]


def test_commit_is_all_or_nothing(db):
    db.commit([Payload("Keep", IoV.always(), {"v": 1})])
    before_files = sorted(os.listdir(db.path))
    before_text = open(os.path.join(db.path, "database.txt")).read()
    with pytest.raises(caf.InvalidError, match="bad/name"):
        db.commit([Payload("Fine", IoV.always(), {"v": 2}), Payload("bad/name", IoV.always(), {"v": 3})])
    with pytest.raises(caf.InvalidError, match="not JSON-serialisable"):
        db.commit([Payload("Fine", IoV.always(), {"v": 2}), Payload("Bad", IoV.always(), {"v": object()})])
    with pytest.raises(caf.InvalidError, match="empty IoV"):
        db.commit([Payload("Fine", IoV.always(), {"v": 2}), Payload("Empty", IoV.empty(), {"v": 3})])
    with pytest.raises(caf.NotFoundError):
        db.commit([Payload("Fine", IoV.always(), {"v": 2}), Payload("Gone", IoV.always(), path="/nonexistent/x.json")])
    assert sorted(os.listdir(db.path)) == before_files
    assert open(os.path.join(db.path, "database.txt")).read() == before_text
    db.reload()
    assert [e.name for e in db.entries()] == ["Keep"]


def test_missing_database(tmp_path):
    with pytest.raises(caf.NotFoundError, match=r"not a database \(no database.txt\)") as e:
        Database(tmp_path / "nowhere")
    assert isinstance(e.value, caf.Error) and isinstance(e.value, LookupError)
    assert not (tmp_path / "nowhere").exists()


def test_malformed_line_names_file_and_line(tmp_path, run_caf):
    folder = tmp_path / "broken"
    folder.mkdir()
    text = folder / "database.txt"
    text.write_text("# a comment\ndbstore/Good abc123 0,0,0,-1\ndbstore/Bad 1 0,0\n")
    with pytest.raises(caf.FormatError) as e:
        Database(folder)
    message = str(e.value)
    assert message.startswith(f"{text}:3: "), message
    # the command prints the same one-line message
    p = run_caf("db", "list", folder, check=False)
    assert p.returncode == 1 and message in p.stderr
    problems = caf.check_database(folder)
    assert any(p.startswith(f"{text}:3:") for p in problems), problems
    assert any(p.startswith(f"{text}:2:") for p in problems), problems  # its payload file is missing


def test_payload_file_missing_and_not_json(db):
    db.commit([Payload("Text", IoV.always(), b"not json", ext="json")])
    with pytest.raises(caf.FormatError, match="not JSON"):
        db.read_json("Text", (0, 0))
    os.remove(db.payload_path("Text", (0, 0)))
    db.reload()  # the handle caches the folder listing until then
    with pytest.raises(caf.NotFoundError, match="dbstore_Text_rev_"):
        db.payload_path("Text", (0, 0))
    assert len(db.check()) == 1


def test_closed_database_refuses(db):
    db.close()
    with pytest.raises(ValueError, match="closed"):
        db.entries()
