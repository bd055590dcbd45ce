"""--move-processed: move an input file out of the drop folder, only as it was read, never over another.

`move_file` moves a file into a folder when its bytes are still those the run read (same sha256):
a file still being uploaded is left where it is for the next run. The move never overwrites: a name
already taken in the target gets a suffix (`book-2.xlsx`), chosen by the file system itself (a hard
link fails on a taken name, so two runs cannot both take it). Within one file system the file is
linked under its new name, checked, then unlinked from the old; across file systems it is copied to
a hidden temporary name in the target folder (hashed while copying), flushed, published under its
final name the same way, and only then removed from the drop folder. A crash at any point leaves the
file in the drop folder (the next run skips it: its content is journaled) or in both places, never
in neither and never half-written under its final name.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipeline.input.frame import InputIssue, LoadedFile, file_hash

log = logging.getLogger(__name__)

CHANGED = "it changed after it was read (still being written?); left for the next run"
GONE = "it is no longer there (moved or deleted by something else)"
LINK = "a link: the file it leads to was read, the link is left in place"
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


class NotMoved(Exception):
    """Why a file was left where it is; str() is the reason for the summary."""


def move_processed(target: Path, loaded: Sequence[LoadedFile]) -> list[InputIssue]:
    """Move each file read into `target`; the files left where they are, and why. Nothing here
    raises: a file that cannot be moved never stops the run (its rows are journaled already)."""
    left: list[InputIssue] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = f"cannot create {target} ({err.strerror or err})"
        left = [InputIssue(lf.source_file, reason) for lf in loaded]
    else:
        for lf in loaded:
            try:
                dest = move_file(lf.path, target, lf.content_hash)
            except NotMoved as why:
                left.append(InputIssue(lf.source_file, str(why)))
            except OSError as err:
                left.append(InputIssue(lf.source_file, f"cannot be moved ({err.strerror or err})"))
            else:
                log.info("moved %s to %s", lf.source_file, dest)
    for issue in left:
        log.warning("not moved %s: %s", issue.file, issue.reason)
    return left


def move_file(path: Path, target: Path, expected_hash: str) -> Path:
    """Move `path` into the folder `target` if its sha256 is still `expected_hash`; the new path.

    Raises NotMoved (reason) when it changed or is gone, or OSError for what the system refuses.
    """
    if path.is_symlink():
        raise NotMoved(LINK)
    try:
        if file_hash(path) != expected_hash:
            raise NotMoved(CHANGED)
    except FileNotFoundError:
        raise NotMoved(GONE) from None
    try:
        dest = _publish(path, target, path)
    except OSError as err:
        if err.errno == errno.EXDEV:
            return _copy_across(path, target, expected_hash)
        if err.errno in _NO_LINKS:
            return _rename_without_links(path, target)
        raise
    if file_hash(dest) != expected_hash:  # written to between the check and the link
        dest.unlink()
        raise NotMoved(CHANGED)
    _unlink_source(path)
    _sync_folder(target)
    return dest


def _names(target: Path, original: Path) -> Iterator[Path]:
    """The file's name in the target, then name-2, name-3, ... (a taken name is never reused)."""
    yield target / original.name
    n = 2
    while True:
        yield target / f"{original.stem}-{n}{original.suffix}"
        n += 1


def _publish(source: Path, target: Path, original: Path) -> Path:
    """Hard-link `source` under the first free name for `original` in `target` (atomic, no
    overwrite: the link fails when the name exists)."""
    for dest in _names(target, original):
        try:
            os.link(source, dest, follow_symlinks=False)
        except FileExistsError:
            continue
        return dest
    raise AssertionError("unreachable")  # pragma: no cover - _names never ends


def _copy_across(path: Path, target: Path, expected_hash: str) -> Path:
    """Copy to a hidden temporary name in `target`, check the bytes, publish, remove the source."""
    temp = target / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as src, open(temp, "xb") as out:
            while block := src.read(1 << 20):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected_hash:
            raise NotMoved(CHANGED)
        try:
            dest = _publish(temp, target, path)
        except OSError as err:
            if err.errno not in _NO_LINKS:
                raise
            dest = _rename_free(temp, target, path)
        else:
            temp.unlink()
    except FileNotFoundError:
        temp.unlink(missing_ok=True)
        raise NotMoved(GONE) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(target)
    _unlink_source(path)
    return dest


def _rename_without_links(path: Path, target: Path) -> Path:
    """A file system without hard links (some network shares): rename to a name not taken."""
    dest = _rename_free(path, target, path)
    _sync_folder(target)
    return dest


def _rename_free(source: Path, target: Path, original: Path) -> Path:
    for dest in _names(target, original):
        if not os.path.lexists(dest):
            os.rename(source, dest)
            return dest
    raise AssertionError("unreachable")  # pragma: no cover


def _unlink_source(path: Path) -> None:
    path.unlink(missing_ok=True)  # removed meanwhile by someone else: it is moved all the same


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
