"""Qt ``.rcc`` reader (hsm_lib.data.rcc) and the GCompris scanner built on it.

The archives here are written by a small independent writer (``write_rcc``) that follows
Qt's rcc.cpp layout, so the reader is checked against the format, not against itself.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from hsm_lib.data.rcc import iter_rcc, iter_rcc_entries, list_rcc, read_rcc_file

GCOMPRIS_ROOT = Path("/usr/share/gcompris-qt/rcc")


# --------------------------------------------------------------------------- writer


def qt_hash(name: str) -> int:
    """Qt's qt_hash over UTF-16 code units (what rcc stores next to each name)."""
    h = 0
    for unit in struct.unpack(f">{len(name.encode('utf-16-be')) // 2}H", name.encode("utf-16-be")):
        h = (h << 4) + unit
        h ^= (h & 0xF0000000) >> 23
        h &= 0x0FFFFFFF
    return h


def write_rcc(path: Path, files: dict[str, bytes], version: int = 2, compress: set[str] = frozenset(),
              zstd: set[str] = frozenset()) -> None:
    """Write ``files`` ({"a/b/c.txt": bytes}) as a Qt binary resource archive.

    Layout as ``rcc -binary`` writes it: header, data, names, then a breadth-first node
    table whose directories list contiguous children sorted by name hash. Paths in
    ``compress`` are stored qCompress-style (u32 size + zlib); paths in ``zstd`` are only
    flagged zstd (payload stored raw), which is enough to test the reader's refusal.
    """
    tree: dict = {}
    for p, data in files.items():
        *dirs, leaf = p.strip("/").split("/")
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = (p, data)

    data_sec = bytearray()
    names_sec = bytearray()
    name_offsets: dict[str, int] = {}

    def name_off(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names_sec)
            enc = name.encode("utf-16-be")
            names_sec.extend(struct.pack(">HI", len(enc) // 2, qt_hash(name)) + enc)
        return name_offsets[name]

    # Breadth-first numbering: node 0 = root, each directory's children contiguous.
    nodes: list[tuple[str, object]] = [("", tree)]
    records: list[bytes] = []
    i = 0
    first_child_of: dict[int, int] = {}
    next_index = 1
    while i < len(nodes):
        name, content = nodes[i]
        if isinstance(content, dict):
            children = sorted(content.items(), key=lambda kv: qt_hash(kv[0]))
            first_child_of[i] = next_index
            next_index += len(children)
            nodes.extend(children)
        i += 1
    for idx, (name, content) in enumerate(nodes):
        noff = name_off(name) if idx else 0
        if isinstance(content, dict):
            rec = struct.pack(">IHII", noff, 0x02, len(content), first_child_of[idx])
        else:
            full, payload = content
            flags = 0
            if full in compress:
                payload = struct.pack(">I", len(payload)) + zlib.compress(payload)
                flags |= 0x01
            if full in zstd:
                flags |= 0x04
            doff = len(data_sec)
            data_sec.extend(struct.pack(">I", len(payload)) + payload)
            rec = struct.pack(">IHHHI", noff, flags, 0, 0, doff)
        if version >= 2:
            rec += struct.pack(">Q", 1_700_000_000_000 + idx)
        records.append(rec)

    header_size = 20 if version < 3 else 24
    data_off = header_size
    names_off = data_off + len(data_sec)
    tree_off = names_off + len(names_sec)
    header = struct.pack(">4sIIII", b"qres", version, tree_off, data_off, names_off)
    if version >= 3:
        header += struct.pack(">I", 0x01 if compress else 0)
    path.write_bytes(header + bytes(data_sec) + bytes(names_sec) + b"".join(records))


FILES = {
    "top.txt": b"hello rcc",
    "gcompris/src/a/deep/nested/blob.bin": bytes(range(256)) * 7,
    "gcompris/src/a/deep/readme.md": "dé-jà vu, ünïcode paths are fine\n".encode() * 50,
    "gcompris/src/b/empty.dat": b"",
    "gcompris/src/b/ünï.txt": b"non-ascii name",
}
COMPRESSED = {"gcompris/src/a/deep/readme.md", "gcompris/src/a/deep/nested/blob.bin"}


# --------------------------------------------------------------------------- reader


@pytest.mark.parametrize("version", [1, 2, 3])
def test_roundtrip_exact_bytes(tmp_path: Path, version: int) -> None:
    arc = tmp_path / f"v{version}.rcc"
    write_rcc(arc, FILES, version=version, compress=COMPRESSED)
    assert sorted(list_rcc(arc)) == sorted("/" + p for p in FILES)
    for p, data in FILES.items():
        assert read_rcc_file(arc, "/" + p) == data
        assert read_rcc_file(arc, p) == data  # leading slash optional
    loaded = {p: load() for p, load in iter_rcc(arc)}
    assert loaded == {"/" + p: d for p, d in FILES.items()}
    flags = {e.path: e.flags for e in iter_rcc_entries(arc)}
    assert flags["/gcompris/src/a/deep/readme.md"] & 0x01 and not flags["/top.txt"] & 0x01


def test_missing_inner_path_is_keyerror(tmp_path: Path) -> None:
    arc = tmp_path / "a.rcc"
    write_rcc(arc, FILES)
    with pytest.raises(KeyError, match="nope.txt"):
        read_rcc_file(arc, "/gcompris/nope.txt")


def test_not_rcc_raises_valueerror(tmp_path: Path) -> None:
    bad = tmp_path / "sound.ogg"
    bad.write_bytes(b"OggS\x00\x02" + b"\x00" * 64)
    with pytest.raises(ValueError, match=r"sound\.ogg.*not a Qt binary resource"):
        list_rcc(bad)
    tiny = tmp_path / "tiny.rcc"
    tiny.write_bytes(b"qr")
    with pytest.raises(ValueError, match="tiny.rcc"):
        list_rcc(tiny)
    future = tmp_path / "future.rcc"
    future.write_bytes(b"qres" + struct.pack(">IIII", 9, 0, 0, 0))
    with pytest.raises(ValueError, match="version 9"):
        list_rcc(future)


def test_zstd_entry_needs_zstandard(tmp_path: Path) -> None:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("zstandard installed; the missing-module error path cannot be hit")
    arc = tmp_path / "z.rcc"
    write_rcc(arc, {"x/y.bin": b"whatever"}, version=3, zstd={"x/y.bin"})
    assert list_rcc(arc) == ["/x/y.bin"]  # listing needs no decompression
    with pytest.raises(RuntimeError, match=r"z\.rcc.*zstd.*zstandard"):
        read_rcc_file(arc, "/x/y.bin")


# --------------------------------------------------------------------------- scanner on a synthetic tree


def _wav_bytes(seconds: float = 0.25, sr: int = 16000, channels: int = 2, amp: float = 0.5) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * 440 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x] * channels, axis=1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_scan_synthetic_tree(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from hsm_lib.data.sources.gcompris import scan_gcompris

    root = tmp_path / "rcc"
    root.mkdir()
    act = "gcompris/src/activities/demo/resource"
    write_rcc(root / "demo.rcc", {
        f"{act}/dog_bark_01.wav": _wav_bytes(),
        f"{act}/copy.wav": _wav_bytes(),  # same PCM as dog_bark_01
        f"{act}/broken.ogg": b"OggS not really",
        f"{act}/quiet.wav": _wav_bytes(amp=1e-5),
        f"{act}/README": b"dog_bark_01.wav: https://example.org/1\n\tThis work is licensed under the Creative Commons 0 License.\n",
        f"{act}/pic.svg": b"<svg/>",
    }, version=3, compress={f"{act}/README"})
    write_rcc(root / "voices-en.rcc", {"gcompris/data/voices-ogg/en/alphabet/a.wav": _wav_bytes()})
    write_rcc(root / "images.rcc", {"gcompris/x.svg": b"<svg/>"})
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text("Files: *\nCopyright: x\nLicense: GPL-3+\n\n"
                              "Files: src/activities/demo/resource/copy.wav\nCopyright: y\nLicense: CC-BY-3.0\n")

    with caplog.at_level(logging.WARNING):
        recs = scan_gcompris(root, copyright_file=copyright_file)
    by_label = {r.label: r for r in recs}
    assert set(by_label) == {"dog bark", "copy"}, [r.id for r in recs]
    assert "broken.ogg" in caplog.text and "quiet.wav" in caplog.text
    dog, copy = by_label["dog bark"], by_label["copy"]
    assert dog.id == f"gcompris:demo.rcc/{act}/dog_bark_01.wav"
    assert dog.original_file == f"{root / 'demo.rcc'}!/{act}/dog_bark_01.wav"
    assert dog.license == "CC0-1.0" and copy.license == "CC-BY-3.0"
    # Scan order is by inner path, so copy.wav comes first and dog_bark_01.wav is the duplicate.
    assert dog.content_hash == copy.content_hash and dog.extra["duplicate_of"] == copy.id
    assert dog.source == dog.family == "gcompris" and dog.duration == pytest.approx(0.25)
    x, sr = dog.load()
    assert x.dtype == np.float32 and x.ndim == 1 and sr == 16000 and x.size == 4000


def test_scan_missing_root(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from hsm_lib.data.sources.gcompris import scan_gcompris

    with caplog.at_level(logging.WARNING):
        assert scan_gcompris(tmp_path / "nowhere") == []
    assert "nowhere" in caplog.text


@pytest.mark.parametrize("inner, label", [
    ("/gcompris/src/activities/instruments/resource/flute_traversiere.ogg", "flute"),
    ("/gcompris/src/activities/memory-sound/resource/LRRain_in_garden_01_LA_cut.ogg", "rain in garden"),
    ("/gcompris/src/activities/memory-sound/resource/LRStartAndStopCarEngine1LACut.ogg", "start and stop car engine"),
    ("/gcompris/src/activities/memory-sound/resource/LRHeart_beat_01_LA.ogg", "heart beat"),
    ("/gcompris/src/activities/melody/resource/xylofon_son3.wav", "xylophone"),
    ("/gcompris/src/activities/babymatch/resource/sound/slideIn.wav", "slide in"),
    ("/gcompris/src/activities/explore_farm_animals/resource/animals/dog.ogg", "dog"),
    ("/gcompris/src/activities/foo/resource/sound/7.ogg", "foo"),
])
def test_labels(inner: str, label: str) -> None:
    from hsm_lib.data.sources.gcompris import label_for

    assert label_for(inner)[0] == label


# --------------------------------------------------------------------------- the installed package


def test_scan_installed_gcompris() -> None:
    if not GCOMPRIS_ROOT.is_dir():
        pytest.skip(f"{GCOMPRIS_ROOT} missing: install the Debian package gcompris-qt-data")
    from hsm_lib.data.sources.gcompris import scan_gcompris

    recs = scan_gcompris()
    assert len(recs) >= 100
    assert len({r.id for r in recs}) == len(recs)
    assert all(r.label and r.license and r.duration > 0 and len(r.content_hash) == 40 for r in recs)
    assert all(r.label == r.label.lower() and not any(c.isdigit() or c == "_" for c in r.label) for r in recs)
    dog = next(r for r in recs if r.id.endswith("/animals/dog.ogg"))
    x, sr = dog.load()
    assert x.dtype == np.float32 and x.ndim == 1 and x.size > 0 and sr > 0
    assert x.size / sr == pytest.approx(dog.duration)
