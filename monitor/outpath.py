"""Where a verb may write its `--out`: the one check every writing verb calls.

An auditor's `--out` must never land on the monitor's own files: the database, its WAL,
its snapshot (and the snapshot's WAL and temporary copies), the daemon's lock and state
files, the pending audit file, the config or the registry CSV it names. A result written
over any of them would destroy the ledger, or leave a stale snapshot that `monitor audit
verify` would then read as intact (issue 14, item 1). So:

- every path is compared after resolving symlinks (`link.csv -> ledger.duckdb` is the
  ledger), with `os.path.samefile` for files that exist (hard links) and by resolved,
  case-folded path for those that do not exist yet (a WAL appears only while a writer
  works); anything in the database's folder whose name starts with the database's or the
  snapshot's name is protected too, so sidecar files added later are covered;
- an existing file is refused unless the verb was given `--force`;
- the file is written to a temporary name in the same folder and renamed over the target
  (os.replace), so a reader never sees half a file and a failed write leaves nothing.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from monitor.errors import InputError


def protected(config) -> list[tuple[Path, str]]:
    """The monitor's own files for this config, each with what it is (for the message)."""
    database = Path(config.database)
    snap = database.with_name(database.stem + ".snapshot.duckdb")
    found = [(database, "the database"), (Path(f"{database}.wal"), "the database's WAL"),
             (snap, "the database's snapshot"), (Path(f"{snap}.wal"), "the snapshot's WAL"),
             (Path(f"{database}.lock"), "the daemon's lock file"),
             (Path(f"{database}.daemon.json"), "the daemon's state file"),
             (database.with_name(database.name + ".audit-pending.jsonl"),
              "the pending audit file"),
             (Path(config.path), "the config file")]
    registry = (getattr(config, "sections", None) or {}).get("registry", {}).get("path")
    if registry:
        found.append((Path(config.path).resolve().parent / registry, "the registry CSV"))
    return found


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _key(path: Path) -> str:
    return os.path.normcase(str(_resolved(path))).casefold()


def clash(path: Path | str, config) -> str | None:
    """What protected file `path` is (or would write over), or None."""
    path = Path(path)
    target = _resolved(path)
    for other, what in protected(config):
        if _key(target) == _key(other):
            return what
        try:
            if target.exists() and other.exists() and os.path.samefile(target, other):
                return what
        except OSError:
            continue
    database = _resolved(Path(config.database))
    stems = (database.name.casefold(), (database.stem + ".snapshot.duckdb").casefold())
    name = target.name.casefold().lstrip(".")
    if _key(target.parent) == _key(database.parent) and name.startswith(stems):
        return "a file of the database"
    return None


def check_file(path: Path | str, config, force: bool = False, option: str = "--out") -> Path:
    """Refuse a target that is one of the monitor's files, a folder, or (without --force)
    an existing file. Returns the resolved path to write to (a symlink's target)."""
    path = Path(path)
    what = clash(path, config)
    if what:
        shown = f"{path} (-> {_resolved(path)})" if path.is_symlink() else str(path)
        raise InputError(f"{option} {shown}: is {what}; refusing to write over it, give "
                         "another path")
    target = _resolved(path)
    if target.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    if target.exists() and not force:
        raise InputError(f"{option} {path}: already exists; give a new name, or pass --force "
                         "to replace it")
    if not target.parent.is_dir():
        raise InputError(f"{option} {path}: the folder {target.parent} does not exist; "
                         "create it first")
    return target


def check_folder(path: Path | str, config, option: str = "--out") -> Path:
    """A folder output (evidence, a lake) must neither be one of the monitor's files nor
    hold one: `--force` on a lake empties the folder."""
    path = Path(path)
    target = _resolved(path)
    what = clash(path, config)
    inside = [w for other, w in protected(config)
              if _key(other).startswith(_key(target).rstrip(os.sep) + os.sep)]
    if what or inside:
        raise InputError(f"{option} {path}: {'is ' + what if what else 'holds ' + inside[0]}; "
                         "refusing to write there, give another folder")
    return target


@contextmanager
def replacing(target: Path):
    """Yield a temporary path beside `target`; on success rename it over `target`
    (atomic on one file system), on failure remove it."""
    target = Path(target)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".tmp")
    os.close(handle)
    temp = Path(temp)
    mask = os.umask(0)          # mkstemp makes 0600; the result gets the usual mode
    os.umask(mask)
    os.chmod(temp, 0o666 & ~mask)
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
