from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
import json
import os
import random
import socket
import threading
import time
from typing import Any
import uuid
import warnings
import weakref
import zlib

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the open lock polls, no flock lock
    fcntl = None  # type: ignore[assignment]

from tunesmith import logging as _logging
from tunesmith.storages.journal._base import BaseJournalBackend, BaseJournalSnapshot

_logger = _logging.get_logger(__name__)

# One record per line: b"<payload length> <crc32 of payload, 8 hex digits> <JSON payload>\n".
# JSON never contains a raw newline, so a line is a record; the length and checksum catch a
# record that was torn (power loss mid-write), half-flushed (NFS), or overwritten with garbage.
_CHUNK = 1 << 20
# fdatasync flushes the data and the size (all a reader needs), not the timestamps: about half
# the cost of fsync on ext4. macOS and Windows have only fsync.
_datasync = getattr(os, "fdatasync", os.fsync)
_INDEX_EVERY = 1024  # remember the byte offset of every 1024th record, to seek instead of scan
# A write reads what other processes appended since this object last read, under the append
# lock, if that is at most this many bytes (more is read after the lock is released).
_READ_UNDER_LOCK = 1 << 20

# Operation codes (tunesmith.storages.journal._replay.Op) whose loss in a power cut harms no
# one, so ``fsync="finish"`` does not flush for them: they only add to a RUNNING trial (create
# without template, param, intermediate value, trial attrs, heartbeat), and that trial's process
# dies in the same power cut. Everything else (finishes, claims, pops, study changes, copied or
# enqueued trials, and any code this list does not know) is flushed. A flush writes out every
# earlier record of the file too, so a deferred record is durable as soon as any later record is.
_DEFERRABLE_OPS = frozenset({5, 7, 8, 9, 12})
_CREATE_TRIAL = 4
_FSYNC_MODES = ("always", "finish", "never")


def _needs_flush(logs: list[dict[str, Any]]) -> bool:
    for log in logs:
        op = log.get("op")
        if op == _CREATE_TRIAL and "template" not in log:
            continue
        if op not in _DEFERRABLE_OPS:
            return True
    return False


_compact_json = json.JSONEncoder(separators=(",", ":")).encode  # made once, not per call


def _encode(log: dict[str, Any]) -> bytes:
    payload = _compact_json(log).encode()
    return b"%d %08x %s\n" % (len(payload), zlib.crc32(payload), payload)


_raw_decode = json.JSONDecoder().raw_decode  # json.loads without its per-call checks


def _decode(line: bytes) -> dict[str, Any] | None:
    """The record in ``line`` (without its newline), or ``None`` if it is damaged."""
    try:
        length, crc, payload = line.split(b" ", 2)
        if int(length) != len(payload) or int(crc, 16) != zlib.crc32(payload):
            return None
        text = payload.decode()
        log, end = _raw_decode(text)
    except ValueError:  # also UnicodeDecodeError and json.JSONDecodeError
        return None
    return log if end == len(text) and isinstance(log, dict) else None


def _read_from(fd: int, offset: int) -> Iterator[bytes]:
    """The bytes of ``fd`` from ``offset`` to its current end, in chunks."""
    while True:
        chunk = os.pread(fd, _CHUNK, offset)
        if chunk:
            yield chunk
        if len(chunk) < _CHUNK:
            return
        offset += len(chunk)


def _pread_exactly(fd: int, n: int, offset: int) -> bytes | None:
    """``n`` bytes of ``fd`` at ``offset``, or ``None`` if the file ends sooner."""
    parts = []
    while n > 0:
        chunk = os.pread(fd, n, offset)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


class BaseJournalFileLock(abc.ABC):
    """A lock that serialises appends to a journal file across processes."""

    @abc.abstractmethod
    def acquire(self) -> bool:
        """Block until the lock is held; return ``True``."""

    @abc.abstractmethod
    def release(self) -> None:
        """Release the lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove_owner_file(path: str, pid: int) -> None:
    if os.getpid() == pid:
        try:
            os.unlink(path)
        except OSError:
            pass


def _sweep_owner_files(lock_file: str, host: str, keep: str) -> None:
    """Remove the owner files of dead processes of this host (left by crashes)."""
    directory, base = os.path.split(lock_file)
    prefix = base + ".owner."
    try:
        entries = [e.name for e in os.scandir(directory or ".") if e.name.startswith(prefix)]
    except OSError:
        return
    for name in entries:
        path = os.path.join(directory, name)
        if path == keep:
            continue
        try:
            with open(path, "rb") as f:
                owner_host, pid, _ = f.read().split(b" ", 2)
            if owner_host.decode(errors="replace") == host and not _pid_alive(int(pid)):
                os.unlink(path)
        except (OSError, ValueError):
            pass


class JournalFileOpenLock(BaseJournalFileLock):
    """A lock file that exists while the lock is held: works on local disks and on NFS (v3 and
    later), the default of :class:`JournalFileBackend`.

    The lock is the file ``<filepath>.lock``, created atomically: it is a hard link to a small
    file of the holder's own (``<filepath>.lock.owner.<random>``, made once per process, removed
    when the lock object goes or the process exits) that holds the owner's host, pid and a
    random token. ``link`` fails if the name exists, as ``open(O_CREAT | O_EXCL)`` does, so
    processes that create the lock file either way exclude each other; linking needs no new
    inode, which makes a lock/unlock about ten times cheaper on ext4. On a file system without
    hard links (FAT, some network or FUSE ones) the lock file is created with
    ``open(O_CREAT | O_EXCL)`` and holds the same owner line. A lock left behind by a
    crashed process is broken when its owner is a dead process on this host, or when it is older
    than ``grace_period`` seconds (owners on other hosts; keep the grace period well above the
    clock skew between hosts and above the longest append). Owner files left by processes that
    died are removed by the next process on the same host that makes its own.

    Processes on one host first queue on a host-local ``flock`` (a file in the temporary
    directory named after the journal's real path), so they wait for each other in the kernel
    and wake as soon as the lock is free, rather than polling the lock file with growing
    sleeps; the lock file still decides between hosts. Where ``flock`` is not available the
    processes poll.

    Args:
        filepath: The journal file's path (the lock file is next to it).
        grace_period: Seconds after which a lock is considered abandoned; ``None`` never breaks
            a lock held from another host.
    """

    def __init__(self, filepath: str, grace_period: float | None = 30) -> None:
        if grace_period is not None and (
            isinstance(grace_period, bool)
            or not isinstance(grace_period, (int, float))
            or grace_period <= 0
        ):
            raise ValueError(
                "JournalFileOpenLock: `grace_period` must be None or a number > 0, "
                f"got grace_period={grace_period!r}."
            )
        self._lock_file = os.fspath(filepath) + ".lock"
        self._grace_period = grace_period
        self._init_process_state()

    def _init_process_state(self) -> None:
        self._host = socket.gethostname()
        self._mutex = threading.Lock()  # threads of this process queue here, not on the file
        self._owner: str | None = None  # this process's owner file (made on first acquire)
        self._owner_pid = -1
        self._owner_id: tuple[int, int | None] = (-1, None)
        self._links = True  # False where the file system has no hard links: open(O_EXCL)
        self._held: tuple[int, int | None] | None = None  # identifies our lock file
        self._queue_fd = -1  # the host-local flock (see the class docstring); -2: none
        self._queue_pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"_lock_file": self._lock_file, "_grace_period": self._grace_period}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_process_state()

    def _make_owner(self) -> None:
        """Create this process's owner file (the inode the lock file links to)."""
        pid = os.getpid()
        token = uuid.uuid4().hex
        path = f"{self._lock_file}.owner.{token}"
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, f"{self._host} {pid} {token}\n".encode())
            ino = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        self._owner, self._owner_pid, self._owner_id = path, pid, (ino, None)
        # Removed with this object or at exit; in a forked child the finaliser does nothing
        # (the file is the parent's).
        weakref.finalize(self, _remove_owner_file, path, pid)
        _sweep_owner_files(self._lock_file, self._host, keep=path)

    def _queue(self) -> int:
        """This process's descriptor of the host-local queue file, or -2 if there is none."""
        if self._queue_pid != os.getpid():  # a forked child must not share the parent's lock
            self._queue_pid, self._queue_fd = os.getpid(), -2
            try:
                if fcntl is None:
                    raise ImportError("fcntl")
                import hashlib
                import tempfile

                key = hashlib.sha256(os.path.realpath(self._lock_file).encode()).hexdigest()
                path = os.path.join(tempfile.gettempdir(), f"tunesmith-journal-{key[:24]}.queue")
                self._queue_fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
            except (ImportError, OSError):  # no fcntl (Windows) or no writable temp directory
                pass
        return self._queue_fd

    def acquire(self) -> bool:
        self._mutex.acquire()
        queued = False
        delay = 0.0002
        try:
            fd = self._queue()
            if fd >= 0:
                assert fcntl is not None  # _queue returns -2 without it
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    queued = True
                except OSError:
                    pass
            while not self._try_lock():
                self._break_if_stale()
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.02)
            return True
        except BaseException:
            if queued:
                self._unqueue()
            self._mutex.release()
            raise

    def _unqueue(self) -> None:
        assert fcntl is not None
        try:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
        except OSError:
            pass

    def _try_lock(self) -> bool:
        """Create the lock file if it does not exist; ``True`` if this call created it."""
        if self._links:
            if self._owner_pid != os.getpid():
                self._make_owner()
            owner = self._owner
            assert owner is not None
            try:
                # The lock file's mtime is the owner file's: fresh at every acquisition, so no
                # process takes a held lock for an abandoned one.
                os.utime(owner)
                os.link(owner, self._lock_file)
            except FileExistsError:
                # NFS may report a link whose reply was lost as failed: the link count says.
                if os.stat(owner).st_nlink < 2 or self._lock_file_id(False) != self._owner_id:
                    return False
            except FileNotFoundError:  # our owner file was deleted: make another
                self._owner_pid = -1
                return False
            except OSError:  # no hard links on this file system (FAT, some network/FUSE ones)
                self._links = False
                return self._try_lock()
            self._held = self._owner_id
            return True
        try:
            fd = os.open(self._lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, f"{self._host} {os.getpid()} {uuid.uuid4().hex}\n".encode())
            st = os.fstat(fd)
        finally:
            os.close(fd)
        # A created file's inode number may be reused once it is deleted: its mtime tells ours.
        self._held = (st.st_ino, st.st_mtime_ns)
        return True

    def _lock_file_id(self, with_mtime: bool) -> tuple[int, int | None] | None:
        try:
            st = os.stat(self._lock_file)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns if with_mtime else None)

    def release(self) -> None:
        try:
            # Still ours if the name is still our link (an owner file's inode is nobody else's
            # while it exists) or the file we created; a broken lock retaken by another process
            # is not.
            held = self._held
            if held is not None and self._lock_file_id(held[1] is not None) == held:
                os.unlink(self._lock_file)
            else:
                _logger.warning(
                    f"The journal lock {self._lock_file} was broken while this process held it "
                    "(it held it longer than the grace period); raise `grace_period`."
                )
        finally:
            self._held = None
            if self._queue_fd >= 0 and self._queue_pid == os.getpid():
                self._unqueue()
            self._mutex.release()

    def _is_stale(self, st: os.stat_result) -> bool:
        if self._grace_period is not None and time.time() - st.st_mtime > self._grace_period:
            return True
        try:
            with open(self._lock_file, "rb") as f:
                host, pid, _ = f.read().split(b" ", 2)
        except (OSError, ValueError):  # gone, or being written right now
            return False
        return host.decode(errors="replace") == self._host and not _pid_alive(int(pid))

    def _break_if_stale(self) -> None:
        try:
            st = os.stat(self._lock_file)
        except FileNotFoundError:
            return
        if not self._is_stale(st):
            return
        # Move the lock aside (atomic) and check we moved the stale one, not a lock another
        # process took in between; put that one back.
        aside = f"{self._lock_file}.stale.{uuid.uuid4().hex}"
        try:
            os.rename(self._lock_file, aside)
        except FileNotFoundError:
            return
        try:
            moved = os.stat(aside)
            if (moved.st_ino, moved.st_mtime_ns) != (st.st_ino, st.st_mtime_ns):
                try:
                    os.link(aside, self._lock_file)
                except OSError:
                    pass
            else:
                _logger.warning(f"Broke the abandoned journal lock {self._lock_file}.")
        finally:
            os.unlink(aside)


class JournalFileFlockLock(BaseJournalFileLock):
    """An ``fcntl.flock`` lock on ``<filepath>.lock``: fast and released by the kernel when
    its holder dies, but only reliable on local disks (not on NFS). POSIX only.

    Args:
        filepath: The journal file's path (the lock file is next to it).
    """

    def __init__(self, filepath: str) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            raise RuntimeError(
                "JournalFileFlockLock needs fcntl (POSIX); use JournalFileOpenLock instead."
            )
        self._lock_file = os.fspath(filepath) + ".lock"
        self._mutex = threading.Lock()
        self._fd = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"_lock_file": self._lock_file}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._mutex = threading.Lock()
        self._fd = -1

    def acquire(self) -> bool:
        assert fcntl is not None
        self._mutex.acquire()
        try:
            fd = os.open(self._lock_file, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        except BaseException:
            self._mutex.release()
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        assert fcntl is not None
        fd, self._fd = self._fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        finally:
            self._mutex.release()


class JournalFileBackend(BaseJournalBackend, BaseJournalSnapshot):
    """A journal in one append-only file, shared by processes on one machine or over NFS.

    Every record is one line with its length and CRC32, so a record torn by a crash or a
    network file system is detected: it is skipped with a warning (once) and every record
    before and after it is kept. An append after a torn tail starts on a new line, so new
    records never merge with the garbage. A damaged line at the very end of the file is not
    skipped until a good record follows it (it may be a record still being written).

    Snapshots (see :class:`~tunesmith.storages.journal.BaseJournalSnapshot`) go to the side file
    ``<file_path>.snapshot``, replaced atomically (write + rename); deleting it is always safe.

    Args:
        file_path: The journal file; created if missing.
        lock_obj: The lock that serialises appends; default :class:`JournalFileOpenLock`
            (works on NFS). :class:`JournalFileFlockLock` is faster on a local disk.
        fsync: Which appends are flushed to disk (``fdatasync``) before they return (the flush
            runs after the append lock is released, so other processes append meanwhile).
            ``"finish"`` (default): appends that finish a trial, claim or pop a trial, add a
            finished or enqueued trial, or change a study are flushed; appends that only add to a
            RUNNING trial (its creation, parameters, intermediate values, attributes,
            heartbeats) are not, and are flushed by the next flushed append of any process. A
            trial whose ``tell`` returned is on disk, as with ``"always"``; a power cut or OS
            crash can lose the unflushed tail, i.e. the newest RUNNING trials of the machine
            that lost power, which die with it anyway. ``"always"``: flush every append (a
            power cut loses at most the record being written; about 2.5x slower for short
            trials on a disk where a flush costs milliseconds). ``"never"``: leave flushing to
            the OS. A crash of the process alone loses nothing in any mode (the data is in
            the OS's cache). ``True`` means ``"always"``, ``False`` ``"never"``.

    Example:
        >>> import tempfile, tunesmith
        >>> from tunesmith.storages import JournalFileBackend, JournalStorage
        >>> path = tempfile.mkdtemp() + "/journal.log"
        >>> storage = JournalStorage(JournalFileBackend(path))
        >>> study = tunesmith.create_study(storage=storage, study_name="demo")
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        >>> len(tunesmith.load_study(study_name="demo", storage=storage).trials)
        3
    """

    def __init__(
        self,
        file_path: str | os.PathLike[str],
        lock_obj: BaseJournalFileLock | None = None,
        *,
        fsync: str | bool = "finish",
    ) -> None:
        path = os.fspath(file_path)
        if not isinstance(path, str) or not path:
            raise ValueError(f"JournalFileBackend: `file_path` must be a path, got {file_path!r}.")
        if lock_obj is not None and not isinstance(lock_obj, BaseJournalFileLock):
            raise TypeError(
                "JournalFileBackend: `lock_obj` must be a BaseJournalFileLock such as "
                f"JournalFileOpenLock(path), got lock_obj={lock_obj!r}."
            )
        self._path = path
        self._lock = lock_obj if lock_obj is not None else JournalFileOpenLock(path)
        if fsync is True or fsync is False:
            fsync = "always" if fsync else "never"
        if fsync not in _FSYNC_MODES:
            raise ValueError(
                'JournalFileBackend: `fsync` must be "always", "finish", "never" or a bool, '
                f"got fsync={fsync!r}."
            )
        self._fsync = str(fsync)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644))
        self._init_caches()

    def _init_caches(self) -> None:
        self._mutex = threading.Lock()
        # Places to resume scanning, as (log number, byte offset from which scanning finds that
        # record): every _INDEX_EVERY-th record, where the last read stopped, the last record.
        self._index: dict[int, int] = {0: 0}
        self._tail = (0, 0)
        self._last_record: tuple[int, int] | None = None
        self._warned: set[int] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {"_path": self._path, "_lock": self._lock, "_fsync": self._fsync}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if isinstance(self._fsync, bool):  # pickled before fsync had modes
            self._fsync = "always" if self._fsync else "never"
        self._init_caches()

    @property
    def file_path(self) -> str:
        """The journal file's path."""
        return self._path

    # -- reading ------------------------------------------------------------------------------
    def _start(self, log_number_from: int) -> tuple[int, int]:
        with self._mutex:
            k = log_number_from - log_number_from % _INDEX_EVERY
            while k not in self._index:
                k -= _INDEX_EVERY
            best = (k, self._index[k])
            for cand in (self._tail, self._last_record):
                if cand is not None and best[0] < cand[0] <= log_number_from:
                    best = cand
            return best

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        number, offset = self._start(log_number_from)
        # Opened on every read: NFS revalidates its cache on open (close-to-open consistency).
        fd = os.open(self._path, os.O_RDONLY)
        try:
            yield from self._scan(_read_from(fd, offset), number, offset, log_number_from)
        finally:
            os.close(fd)

    def _scan(
        self, chunks: Iterable[bytes], number: int, offset: int, log_number_from: int
    ) -> Iterator[dict[str, Any]]:
        """The records in ``chunks`` (the file's bytes from ``offset``, where record ``number``
        is found) numbered ``log_number_from`` and later; remembers where to resume."""
        resume = offset  # where scanning must restart to find record `number`
        bad: list[int] = []  # offsets of damaged lines not yet followed by a good record
        buf = b""
        buf_offset = offset
        index = self._index
        for chunk in chunks:
            lines = (buf + chunk if buf else chunk).split(b"\n")
            buf = lines.pop()  # the bytes after the last newline: an incomplete line
            for line in lines:
                line_offset = buf_offset
                buf_offset += len(line) + 1
                log = _decode(line)
                if log is None:
                    bad.append(line_offset)
                    continue
                if bad:
                    self._warn_damaged(bad)
                    bad = []
                if number % _INDEX_EVERY == 0:
                    index[number] = resume
                resume = buf_offset
                self._last_record = (number, line_offset)
                number += 1
                if number > log_number_from:
                    yield log
        # A damaged line with no good record after it may still be being written: stop
        # before it and look again next time.
        with self._mutex:
            if number >= self._tail[0]:
                self._tail = (number, resume)

    def _warn_damaged(self, offsets: list[int]) -> None:
        for off in offsets:
            if off in self._warned:
                continue
            self._warned.add(off)
            warnings.warn(
                f"Journal file {self._path!r}: the record at byte {off} is damaged (torn or "
                "corrupted write); it is skipped, and the records before and after it are kept.",
                UserWarning,
                stacklevel=4,
            )

    # -- writing ------------------------------------------------------------------------------
    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self._append(logs, None)

    def _append_and_read(
        self, logs: list[dict[str, Any]], log_number_from: int
    ) -> Iterable[dict[str, Any]]:
        """Append ``logs`` and return every log from ``log_number_from`` up to and including
        them: what other processes appended since this object last read is read under the
        append lock through the file opened to append, so a write opens the file once."""
        number, offset = self._start(log_number_from)
        before = self._append(logs, offset)
        if before is None:  # too much to read under the lock, or the file shrank
            return self.read_logs(log_number_from)
        return self._scan((before,), number, offset, log_number_from)

    def _append(self, logs: list[dict[str, Any]], read_from: int | None) -> bytes | None:
        """Append ``logs``; with ``read_from`` (a line start), return the file's bytes from there
        to the end of the appended records (``None`` if they are not read)."""
        data = b"".join(_encode(log) for log in logs)
        flush = self._fsync == "always" or (self._fsync == "finish" and _needs_flush(logs))
        before: bytes | None = None
        sync_fd = -1
        self._lock.acquire()
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                size = os.fstat(fd).st_size
                if read_from is not None and read_from <= size <= read_from + _READ_UNDER_LOCK:
                    before = _pread_exactly(fd, size - read_from, read_from)
                if before is None:
                    torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
                else:
                    # read_from is a line start, so the byte before it is a newline.
                    torn = len(before) > 0 and before[-1:] != b"\n"
                if torn:
                    data = b"\n" + data  # end a torn last record so ours starts clean
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if flush:
                    sync_fd = os.dup(fd)
            finally:
                # Closing hands the data to the NFS server (close-to-open), so the next holder
                # of the lock, on any host, appends after it.
                os.close(fd)
        finally:
            self._lock.release()
        if flush:
            # Flushed after the lock is released: other processes append meanwhile instead of
            # waiting for this disk flush, and flushes that overlap share the file system's
            # journal commit. Nothing is weaker: the caller still returns only once its record
            # is on disk, and a flush writes out every record appended before it, so whatever
            # another process flushes after reading this record makes this record durable too.
            try:
                _datasync(sync_fd)
            finally:
                os.close(sync_fd)
        return None if before is None else before + data

    # -- snapshots ----------------------------------------------------------------------------
    @property
    def _snapshot_path(self) -> str:
        return self._path + ".snapshot"

    def _first_line_crc(self) -> int:
        with open(self._path, "rb") as f:
            return zlib.crc32(f.readline(65536))

    def save_snapshot(self, snapshot: bytes) -> None:
        """Write ``snapshot`` to ``<file_path>.snapshot`` atomically (temporary file + rename),
        with the position of the last record read so the next load can seek past the records
        the snapshot covers."""
        last = self._last_record
        header = {
            "version": 1,
            "head_crc": self._first_line_crc(),
            "last_record": list(last) if last is not None else None,
        }
        tmp = f"{self._snapshot_path}.tmp.{os.getpid()}.{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as f:
                f.write(json.dumps(header).encode() + b"\n" + snapshot)
                f.flush()
                if self._fsync != "never":
                    os.fsync(f.fileno())
            os.replace(tmp, self._snapshot_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def load_snapshot(self) -> bytes | None:
        try:
            with open(self._snapshot_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        head, _, snapshot = data.partition(b"\n")
        try:
            header = json.loads(head)
            if header.get("head_crc") != self._first_line_crc():
                return None  # the journal was replaced since: the snapshot is not its own
            last = header.get("last_record")
            if last is not None:
                number, offset = int(last[0]), int(last[1])
                if 0 <= offset < os.path.getsize(self._path):
                    with self._mutex:
                        self._last_record = (number, offset)
        except (ValueError, TypeError, AttributeError, IndexError):
            return None
        return snapshot
