"""Pure-Python reader for Qt binary resource archives (``.rcc``).

GCompris ships its sounds inside ``.rcc`` files produced by Qt's ``rcc -binary``. This
module reads them without Qt. The layout (Qt 5/6, ``src/tools/rcc/rcc.cpp`` writer and
``src/corelib/io/qresource.cpp`` reader), all integers big-endian:

Header::

    b"qres"                       magic
    u32 version                   1, 2 or 3
    u32 tree_offset               start of the node table
    u32 data_offset               start of the payload section
    u32 names_offset              start of the name section
    u32 overall_flags             version >= 3 only (which compressions occur)

Tree: a flat table of fixed-size nodes; node ``i`` is at ``tree_offset + i * node_size``
where ``node_size`` is 14 (version 1) or 22 (version >= 2, adds a u64 last-modified
time in ms). Node 0 is the root directory. Each node::

    u32 name_offset               into the name section
    u16 flags                     0x01 zlib, 0x02 directory, 0x04 zstd
    directory:  u32 child_count, u32 first_child   (children are nodes
                                                     first_child .. first_child+count-1)
    file:       u16 territory, u16 language, u32 data_offset (into the data section)
    [u64 last_modified]           version >= 2 only

Names: ``u16 length`` (UTF-16 code units), ``u32 qt_hash``, then ``length`` UTF-16BE
code units. Data entries: ``u32 length`` then ``length`` bytes. A zlib entry (flag 0x01)
is in ``qCompress`` form: ``u32 uncompressed_size`` then a zlib stream. A zstd entry
(flag 0x04) is a bare zstd frame.

Files with the same path but different locale (territory/language) are all listed by
:func:`iter_rcc_entries`; the path-based API keeps the first one (Qt's default-locale
entry sorts first in practice).
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

__all__ = [
    "RccEntry",
    "RccFileLoader",
    "iter_rcc",
    "iter_rcc_entries",
    "list_rcc",
    "read_rcc_file",
]

MAGIC = b"qres"
FLAG_COMPRESSED = 0x01  # zlib, qCompress framing
FLAG_DIRECTORY = 0x02
FLAG_COMPRESSED_ZSTD = 0x04

_HEADER_V1 = struct.Struct(">4sIIII")  # magic, version, tree, data, names
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class RccEntry:
    """One file node of an archive.

    ``path`` is the full path inside the archive (``"/a/b/c.ogg"``); ``data_offset`` is
    absolute in the archive file; ``flags`` are the node flags (compression bits);
    ``territory``/``language`` are Qt's locale enums (0 = any).
    """

    path: str
    flags: int
    data_offset: int
    territory: int
    language: int
    last_modified_ms: int


@dataclass(frozen=True)
class _Header:
    version: int
    tree_offset: int
    data_offset: int
    names_offset: int
    overall_flags: int

    @property
    def node_size(self) -> int:
        return 14 if self.version < 2 else 22


def _read_header(buf: bytes, path: Path) -> _Header:
    if len(buf) < _HEADER_V1.size or buf[:4] != MAGIC:
        raise ValueError(
            f"{path}: not a Qt binary resource (.rcc) file (expected magic b'qres', "
            f"got {bytes(buf[:4])!r})"
        )
    _, version, tree, data, names = _HEADER_V1.unpack_from(buf, 0)
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: unsupported .rcc format version {version} (know 1-3)")
    flags = 0
    if version >= 3:
        if len(buf) < _HEADER_V1.size + 4:
            raise ValueError(f"{path}: truncated .rcc header")
        (flags,) = _U32.unpack_from(buf, _HEADER_V1.size)
    for name, off in (("tree", tree), ("data", data), ("names", names)):
        if off > len(buf):
            raise ValueError(f"{path}: corrupt .rcc header ({name} offset {off} beyond file size {len(buf)})")
    return _Header(version, tree, data, names, flags)


def _read_name(buf: bytes, hdr: _Header, name_offset: int) -> str:
    off = hdr.names_offset + name_offset
    (n,) = _U16.unpack_from(buf, off)
    start = off + 2 + 4  # skip the length and the qt_hash
    return bytes(buf[start : start + 2 * n]).decode("utf-16-be")


def _walk(buf: bytes, hdr: _Header, path: Path) -> Iterator[RccEntry]:
    """Depth-first walk of the node table; yields file nodes in archive order."""
    size = hdr.node_size
    n_nodes_max = (len(buf) - hdr.tree_offset) // size  # guards against corrupt indices
    # Explicit stack rather than recursion; (node index, parent path). The root (node 0)
    # has an empty name and contributes nothing to paths.
    stack: list[tuple[int, str]] = [(0, "")]
    seen: set[int] = set()
    while stack:
        idx, prefix = stack.pop()
        if idx in seen or idx >= n_nodes_max:
            raise ValueError(f"{path}: corrupt .rcc tree (node {idx} repeated or out of range)")
        seen.add(idx)
        off = hdr.tree_offset + idx * size
        name_off, flags = struct.unpack_from(">IH", buf, off)
        name = "" if idx == 0 else _read_name(buf, hdr, name_off)
        full = f"{prefix}/{name}" if idx else ""
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack_from(">II", buf, off + 6)
            # Push in reverse so children come out in stored (hash-sorted) order.
            for child in range(first + count - 1, first - 1, -1):
                stack.append((child, full))
        else:
            territory, language, data_off = struct.unpack_from(">HHI", buf, off + 6)
            mtime = struct.unpack_from(">Q", buf, off + 14)[0] if hdr.version >= 2 else 0
            yield RccEntry(full, flags, hdr.data_offset + data_off, territory, language, mtime)


def _payload(buf: bytes, entry: RccEntry, path: Path) -> bytes:
    """The decompressed bytes of one file entry."""
    (n,) = _U32.unpack_from(buf, entry.data_offset)
    start = entry.data_offset + 4
    raw = bytes(buf[start : start + n])
    if len(raw) != n:
        raise ValueError(f"{path}: truncated data for {entry.path!r}")
    if entry.flags & FLAG_COMPRESSED:
        # qCompress framing: 4-byte expected size, then a zlib stream.
        (expected,) = _U32.unpack_from(raw, 0)
        out = zlib.decompress(raw[4:])
        if len(out) != expected:
            raise ValueError(
                f"{path}: {entry.path!r} decompressed to {len(out)} bytes, header says {expected}"
            )
        return out
    if entry.flags & FLAG_COMPRESSED_ZSTD:
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError as e:
            raise RuntimeError(
                f"{path}: {entry.path!r} is zstd-compressed; install the 'zstandard' module to read it"
            ) from e
        # rcc writes frames with the content size, but allow a bound just in case.
        return zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 31)
    return raw


def _load(path: str | Path) -> tuple[Path, bytes, _Header]:
    p = Path(path)
    buf = p.read_bytes()
    return p, buf, _read_header(buf, p)


def iter_rcc_entries(path: str | Path) -> list[RccEntry]:
    """All file nodes of the archive at ``path`` (including per-locale duplicates).

    Raises ``ValueError`` if ``path`` is not a (well-formed) ``.rcc`` file.
    """
    p, buf, hdr = _load(path)
    return list(_walk(buf, hdr, p))


def list_rcc(path: str | Path) -> list[str]:
    """Full inner paths of every file in the archive, e.g. ``"/gcompris/src/.../dog.ogg"``.

    Directories are not listed; a path with several locale variants is listed once.
    """
    return list(dict.fromkeys(e.path for e in iter_rcc_entries(path)))


def read_rcc_file(path: str | Path, inner_path: str) -> bytes:
    """The (decompressed) bytes of ``inner_path`` inside the archive at ``path``.

    ``inner_path`` may omit the leading ``/``. Raises ``KeyError`` if it is absent.
    """
    want = inner_path if inner_path.startswith("/") else "/" + inner_path
    p, buf, hdr = _load(path)
    for e in _walk(buf, hdr, p):
        if e.path == want:
            return _payload(buf, e, p)
    raise KeyError(f"{p}: no file {want!r} in archive")


def iter_rcc(path: str | Path) -> Iterator[tuple[str, "RccFileLoader"]]:
    """Yield ``(inner_path, loader)`` for each file; ``loader()`` returns its bytes.

    The archive is read once to list the tree; each loader re-reads just its own entry
    (seek + read), so nothing is held in memory between calls, loaders stay valid after
    the iterator is exhausted, and they pickle (for worker processes).
    """
    p, buf, hdr = _load(path)
    entries = _first_per_path(_walk(buf, hdr, p))
    del buf  # loaders read lazily from disk
    for e in entries:
        yield e.path, RccFileLoader(p, e)


def _first_per_path(entries: Iterator[RccEntry]) -> list[RccEntry]:
    out: dict[str, RccEntry] = {}
    for e in entries:
        out.setdefault(e.path, e)
    return list(out.values())


@dataclass(frozen=True)
class RccFileLoader:
    """Zero-argument callable returning the decompressed bytes of one archive entry."""

    archive: Path
    entry: RccEntry

    def __call__(self) -> bytes:
        with open(self.archive, "rb") as f:
            f.seek(self.entry.data_offset)
            head = f.read(4)
            if len(head) != 4:
                raise ValueError(f"{self.archive}: truncated data for {self.entry.path!r}")
            (n,) = _U32.unpack(head)
            # Re-frame as a tiny buffer starting at offset 0 so _payload's decoding is shared.
            blob = head + f.read(n)
        local = dataclasses.replace(self.entry, data_offset=0)
        return _payload(blob, local, self.archive)
