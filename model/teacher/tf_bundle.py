"""Read a TensorFlow checkpoint ("tensor bundle") with numpy only.

A TF checkpoint with prefix ``P`` is ``P.index`` plus ``P.data-0000k-of-0000N`` shards:

- ``P.index`` is a LevelDB-format table (SSTable). Its 48-byte footer holds the block
  handles (varint64 offset and size) of the metaindex and index blocks and the magic
  number 0xdb4775248b80fb57. The index block maps the last key of each data block to the
  block's handle. A block is a run of entries ``(shared, unshared, value length: varint32,
  key suffix, value)`` whose keys are prefix-compressed against the previous key (the full
  key is stored at every restart point), then the uint32 restart offsets and their count;
  a 5-byte trailer follows each block: a compression byte (0 none, 1 snappy) and the
  masked CRC-32C of the block and that byte.
- Its entries map "" to a ``BundleHeaderProto`` (shard count, endianness) and every
  variable name to a ``BundleEntryProto`` (dtype, shape, shard id, offset, size, masked
  CRC-32C of the bytes).
- The shards hold the raw tensor bytes in the header's byte order.

TensorFlow writes these tables uncompressed; a snappy-compressed block is refused with
:class:`UnsupportedBundleError` (no snappy decoder is bundled). String tensors, bfloat16
and partitioned (sliced) variables are refused the same way.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.teacher.crc32c import crc32c, unmask

__all__ = [
    "BundleEntry",
    "BundleError",
    "MalformedBundleError",
    "UnsupportedBundleError",
    "read_bundle",
    "read_bundle_from_zip",
    "read_index",
]

logger = logging.getLogger(__name__)

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5

#: TensorFlow DataType enum -> numpy dtype (little-endian; swapped for big-endian bundles).
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"),
    5: np.dtype("<i2"), 6: np.dtype("i1"), 8: np.dtype("<c8"), 9: np.dtype("<i8"),
    10: np.dtype("?"), 17: np.dtype("<u2"), 18: np.dtype("<c16"), 19: np.dtype("<f2"),
    22: np.dtype("<u4"), 23: np.dtype("<u8"),
}


class BundleError(ValueError):
    """A checkpoint that cannot be read; the message names the file."""

    def __init__(self, source: str, detail: str) -> None:
        self.source = source
        self.detail = detail
        super().__init__(f"{source}: {detail}")


class MalformedBundleError(BundleError):
    """Truncated or corrupt index or data: bad magic, bad varint, size or CRC mismatch."""


class UnsupportedBundleError(BundleError):
    """Well-formed, but uses a feature this reader does not implement (snappy, strings...)."""


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lies in the shards.

    Attributes:
        name: variable name, e.g. ``conv2d/kernel``.
        dtype: numpy dtype of the stored bytes.
        shape: tensor shape.
        shard_id: which ``.data-`` file.
        offset: byte offset in that file.
        size: byte count.
        crc32c: unmasked CRC-32C of the bytes, or None when the entry has none.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None


@dataclass(frozen=True)
class BundleHeader:
    """The bundle's header entry: shard count and byte order."""

    num_shards: int
    big_endian: bool


# --- entry points -------------------------------------------------------------------------
def read_bundle(prefix: str | Path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Read the tensors of the checkpoint ``prefix`` (``prefix + ".index"`` etc.).

    Args:
        prefix: checkpoint prefix, as given to TF's ``Saver.save`` (may end in ``/``).
        names: only these variables (all if None); an unknown name raises KeyError.

    Returns:
        {variable name: array} with each array in native byte order and its stored shape.

    Raises:
        MalformedBundleError, UnsupportedBundleError, OSError (missing files), KeyError.
    """
    prefix = str(prefix)
    index_name = prefix + ".index"
    header, entries = read_index(Path(index_name).read_bytes(), source=index_name)

    def shard(i: int) -> tuple[str, Callable[[int, int], bytes], int]:
        name = _shard_name(prefix, i, header.num_shards)
        return name, _file_reader(name), Path(name).stat().st_size

    return _read_tensors(header, entries, shard, names)


def read_bundle_from_zip(
    zip_path: str | Path, prefix: str, names: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Read a checkpoint stored inside a zip file (a wheel), without unpacking it.

    Args:
        zip_path: the zip (e.g. ``musicnn-0.1.0-py3-none-any.whl``).
        prefix: the checkpoint prefix inside the zip, e.g. ``musicnn/MSD_musicnn/``.
        names: only these variables (all if None).

    Returns:
        As :func:`read_bundle`.

    Raises:
        MalformedBundleError: also when a member is missing or the zip is unreadable.
        UnsupportedBundleError, KeyError.
    """
    where = f"{zip_path}!{prefix}"
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise MalformedBundleError(str(zip_path), f"not a readable zip file ({e})") from e
    with zf:
        header, entries = read_index(_member(zf, prefix + ".index", where), source=where +
                                     ".index")

        def shard(i: int) -> tuple[str, Callable[[int, int], bytes], int]:
            name = _shard_name(prefix, i, header.num_shards)
            data = _member(zf, name, where)
            return f"{zip_path}!{name}", lambda o, n: data[o:o + n], len(data)

        return _read_tensors(header, entries, shard, names)


def read_index(data: bytes, *, source: str) -> tuple[BundleHeader, dict[str, BundleEntry]]:
    """Parse a ``.index`` file's bytes.

    Args:
        data: the whole file.
        source: the file's name, for error messages.

    Returns:
        (header, {name: entry}) in key order.

    Raises:
        MalformedBundleError, UnsupportedBundleError.
    """
    header: BundleHeader | None = None
    entries: dict[str, BundleEntry] = {}
    for key, value in _table_items(data, source):
        if key == b"":
            header = _parse_header(value, source)
            continue
        name = key.decode("utf-8", errors="replace")
        entries[name] = _parse_entry(name, value, source)
    if header is None:
        raise MalformedBundleError(source, "no bundle header entry (empty key)")
    return header, entries


# --- tensors ------------------------------------------------------------------------------
def _read_tensors(
    header: BundleHeader,
    entries: dict[str, BundleEntry],
    open_shard: Callable[[int], tuple[str, Callable[[int, int], bytes], int]],
    names: Iterable[str] | None,
) -> dict[str, np.ndarray]:
    wanted = list(entries) if names is None else list(names)
    missing = [n for n in wanted if n not in entries]
    if missing:
        raise KeyError(f"not in the checkpoint: {missing}; it holds {sorted(entries)}")
    shards: dict[int, tuple[str, Callable[[int, int], bytes], int]] = {}
    out = {}
    for name in wanted:
        e = entries[name]
        if e.shard_id not in shards:
            shards[e.shard_id] = open_shard(e.shard_id)
        out[name] = _tensor(e, *shards[e.shard_id], big_endian=header.big_endian)
    return out


def _tensor(e: BundleEntry, source: str, read: Callable[[int, int], bytes], length: int,
            *, big_endian: bool) -> np.ndarray:
    count = int(np.prod(e.shape, dtype=np.int64))
    if count * e.dtype.itemsize != e.size:
        raise MalformedBundleError(source, f"'{e.name}': {e.size} bytes recorded for shape "
                                           f"{e.shape} of {e.dtype} ({count * e.dtype.itemsize})")
    if e.offset + e.size > length:
        raise MalformedBundleError(source, f"'{e.name}': bytes [{e.offset}, "
                                           f"{e.offset + e.size}) lie past the end ({length})")
    raw = read(e.offset, e.size)
    if len(raw) != e.size:
        raise MalformedBundleError(source, f"'{e.name}': read {len(raw)} of {e.size} bytes")
    if e.crc32c is not None and crc32c(raw) != e.crc32c:
        raise MalformedBundleError(source, f"'{e.name}': CRC-32C mismatch (corrupt data)")
    dtype = e.dtype.newbyteorder(">") if big_endian else e.dtype
    return np.frombuffer(raw, dtype=dtype).astype(e.dtype.newbyteorder("="), copy=True).reshape(
        e.shape)


def _shard_name(prefix: str, shard_id: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}"


def _file_reader(name: str) -> Callable[[int, int], bytes]:
    def read(offset: int, size: int) -> bytes:
        with open(name, "rb") as fh:
            fh.seek(offset)
            return fh.read(size)

    return read


def _member(zf: zipfile.ZipFile, name: str, where: str) -> bytes:
    try:
        return zf.read(name)
    except KeyError as e:
        raise MalformedBundleError(where, f"the zip has no member '{name}'") from e
    except (zipfile.BadZipFile, OSError) as e:
        raise MalformedBundleError(where, f"member '{name}' is unreadable ({e})") from e


# --- LevelDB table ------------------------------------------------------------------------
def _table_items(data: bytes, source: str) -> Iterable[tuple[bytes, bytes]]:
    """(key, value) of every data-block entry, following the index block."""
    if len(data) < FOOTER_SIZE:
        raise MalformedBundleError(source, f"{len(data)} bytes, shorter than the "
                                           f"{FOOTER_SIZE}-byte table footer (truncated?)")
    footer = data[-FOOTER_SIZE:]
    magic = int.from_bytes(footer[-8:], "little")
    if magic != TABLE_MAGIC:
        raise MalformedBundleError(source, f"bad table magic {magic:#018x} (expected "
                                           f"{TABLE_MAGIC:#018x}): not a TF .index file, or "
                                           f"truncated")
    reader = _Reader(footer, 0, source, "footer")
    reader.varint()  # metaindex offset
    reader.varint()  # metaindex size
    index_offset, index_size = reader.varint(), reader.varint()
    index_block = _block(data, index_offset, index_size, source, len(data) - FOOTER_SIZE)
    for _, handle in _block_entries(index_block, source, "index block"):
        h = _Reader(handle, 0, source, "block handle")
        offset, size = h.varint(), h.varint()
        block = _block(data, offset, size, source, index_offset)
        yield from _block_entries(block, source, f"data block at {offset}")


def _block(data: bytes, offset: int, size: int, source: str, limit: int) -> bytes:
    end = offset + size + BLOCK_TRAILER_SIZE
    if end > limit:
        raise MalformedBundleError(source, f"block [{offset}, {end}) runs past byte {limit}")
    contents = data[offset:offset + size]
    kind = data[offset + size]
    stored = int.from_bytes(data[offset + size + 1:end], "little")
    if crc32c(contents + bytes([kind])) != unmask(stored):
        raise MalformedBundleError(source, f"block at {offset}: CRC-32C mismatch (corrupt)")
    if kind == 1:
        raise UnsupportedBundleError(source, f"block at {offset} is snappy-compressed; this "
                                             f"reader handles uncompressed tables only")
    if kind != 0:
        raise MalformedBundleError(source, f"block at {offset}: unknown compression {kind}")
    return contents


def _block_entries(block: bytes, source: str, what: str) -> list[tuple[bytes, bytes]]:
    """Decode a block's prefix-compressed entries; restart points must hold full keys."""
    if len(block) < 4:
        raise MalformedBundleError(source, f"{what}: {len(block)} bytes, no restart count")
    n_restarts = int.from_bytes(block[-4:], "little")
    restarts_at = len(block) - 4 - 4 * n_restarts
    if n_restarts < 1 or restarts_at < 0:
        raise MalformedBundleError(source, f"{what}: bad restart count {n_restarts}")
    restarts = {int.from_bytes(block[restarts_at + 4 * i:restarts_at + 4 * i + 4], "little")
                for i in range(n_restarts)}
    r = _Reader(block[:restarts_at], 0, source, what)
    items, key = [], b""
    while not r.done():
        at = r.pos
        shared, unshared, value_len = r.varint(), r.varint(), r.varint()
        if shared > len(key) or (at in restarts and shared != 0):
            raise MalformedBundleError(source, f"{what}: entry at {at} shares {shared} bytes "
                                               f"of a {len(key)}-byte key")
        key = key[:shared] + r.take(unshared)
        items.append((key, r.take(value_len)))
    return items


class _Reader:
    """Cursor over bytes: varints (protobuf/LevelDB) and raw spans; overruns are errors."""

    def __init__(self, data: bytes, pos: int, source: str, what: str) -> None:
        self.data, self.pos, self.source, self.what = data, pos, source, what

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise MalformedBundleError(self.source, f"{self.what}: truncated or overlong "
                                                        f"varint at byte {self.pos}")
            b = self.data[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedBundleError(self.source, f"{self.what}: {n} bytes wanted at "
                                                    f"{self.pos}, {len(self.data)} available")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


# --- protobuf -----------------------------------------------------------------------------
def _fields(data: bytes, source: str, what: str) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a protobuf message; varints as int, others as bytes."""
    r, out = _Reader(data, 0, source, what), []
    while not r.done():
        tag = r.varint()
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value = r.varint()
        elif wire == 1:
            value = r.take(8)
        elif wire == 2:
            value = r.take(r.varint())
        elif wire == 5:
            value = r.take(4)
        else:
            raise MalformedBundleError(source, f"{what}: unsupported wire type {wire}")
        out.append((number, value))
    return out


def _parse_header(value: bytes, source: str) -> BundleHeader:
    f = dict(_fields(value, source, "bundle header"))
    num_shards = int(f.get(1, 1))  # type: ignore[arg-type]
    if num_shards < 1:
        raise MalformedBundleError(source, f"bundle header: {num_shards} shards")
    return BundleHeader(num_shards=num_shards, big_endian=f.get(2, 0) == 1)


def _parse_entry(name: str, value: bytes, source: str) -> BundleEntry:
    fields = _fields(value, source, f"entry '{name}'")
    f = dict(fields)
    if any(number == 7 for number, _ in fields):
        raise UnsupportedBundleError(source, f"'{name}' is a partitioned (sliced) variable")
    dtype_id = int(f.get(1, 0))  # type: ignore[arg-type]
    if dtype_id not in DTYPES:
        raise UnsupportedBundleError(source, f"'{name}': TF dtype {dtype_id} is not supported "
                                             f"(numeric dtypes only)")
    crc = f.get(6)
    return BundleEntry(
        name=name, dtype=DTYPES[dtype_id],
        shape=_parse_shape(f.get(2, b""), source, name),  # type: ignore[arg-type]
        shard_id=int(f.get(3, 0)), offset=int(f.get(4, 0)),  # type: ignore[arg-type]
        size=int(f.get(5, 0)),  # type: ignore[arg-type]
        crc32c=None if crc is None else unmask(int.from_bytes(crc, "little")),  # type: ignore[arg-type]
    )


def _parse_shape(value: bytes, source: str, name: str) -> tuple[int, ...]:
    dims = []
    for number, dim in _fields(value, source, f"shape of '{name}'"):
        if number == 3 and dim:
            raise MalformedBundleError(source, f"'{name}': shape of unknown rank")
        if number == 2:
            size = dict(_fields(dim, source, f"dim of '{name}'")).get(1, 0)  # type: ignore[arg-type]
            dims.append(int(size))  # type: ignore[arg-type]
    if any(d < 0 for d in dims):
        raise MalformedBundleError(source, f"'{name}': negative dimension in {dims}")
    return tuple(dims)
