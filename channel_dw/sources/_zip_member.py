"""A zip member's bytes, inflated by ISA-L: the store workbook's sheet and shared strings.

``zipfile`` inflates with zlib and checks each block's CRC-32 with zlib's: 0.67-0.73 CPU-s for the
456 MB sheet of a million orders. :func:`blocks` reads the member's deflate stream itself (256 KiB
at a time, with ``os.pread``: no file position shared with ``zipfile``) and inflates it with ISA-L
(``isal``; zlib where it is not installed), which with its CRC-32 takes 0.20 s in a process that
keeps its freed blocks (:mod:`channel_dw.ingest.heap`; 0.43 s when every block is fresh memory).
The shared strings (48 MB): 0.07 s against 0.14 s, before the first row.

What ``zipfile`` checks is checked here too, with its errors: the local header's signature and
name, the member's CRC-32 and its stated size (a stream that inflates to more is cut there, as
``zipfile`` cuts it, and the checksum then fails). An encrypted member, or one stored or
compressed another way, is read by ``zipfile``.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterator

try:  # ISA-L's zlib-compatible module (the isal package); zlib gives the same bytes, slower
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal is a dependency; a build without it still reads
    _inflate = zlib

# What a stream that does not inflate raises (ISA-L's error is not a zlib.error).
ERRORS = (zlib.error, _inflate.error)
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
_FEED = 256 << 10


def read(zf: zipfile.ZipFile, name: str) -> bytes:
    """The member's bytes (see :func:`blocks`)."""
    return b"".join(blocks(zf, name, 1 << 62))


def blocks(zf: zipfile.ZipFile, name: str, size: int, first: int | None = None) -> Iterator[bytes]:
    """The member's bytes in blocks of ``size`` (the first of ``first``; the last may be
    shorter), each inflated as it is asked for."""
    for parts in pieces(zf, name, size, first):
        yield b"".join(parts) if len(parts) > 1 else parts[0]


def pieces(
    zf: zipfile.ZipFile, name: str, size: int, first: int | None = None
) -> Iterator[list[bytes]]:
    """:func:`blocks`, each block as the pieces it was inflated in (joined, they are the block):
    for a caller that puts something in front of each block, in one copy instead of two."""
    info = zf.getinfo(name)
    fd = _descriptor(zf)
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1 or fd is None:
        yield from ([block] for block in _by_zipfile(zf, name, size, first))
        return
    header = os.pread(fd, _LOCAL_HEADER.size, info.header_offset)
    if len(header) < _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("Truncated file header")
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != zipfile.stringFileHeader:
        raise zipfile.BadZipFile("Bad magic number for file header")
    at = info.header_offset + _LOCAL_HEADER.size
    named = os.pread(fd, name_length, at).decode("utf-8" if info.flag_bits & 0x800 else "cp437")
    if named != info.orig_filename:
        raise zipfile.BadZipFile(f"File name in directory {name!r} and header {named!r} differ.")
    at += name_length + extra_length
    end = at + info.compress_size
    inflater = _inflate.decompressobj(-15)
    crc, left = 0, info.file_size
    want = size if first is None else first
    parts: list[bytes] = []
    held = 0
    fed = b""  # of the stream, read and not yet inflated
    while left > 0:
        if not fed and at < end:
            fed = os.pread(fd, min(_FEED, end - at), at)
            if not fed:
                raise EOFError(f"{name} ends before its stated compressed size")
            at += len(fed)
        if fed:  # no more than the block wants, nor than the stated size (zipfile cuts there)
            out = inflater.decompress(fed, min(left, want - held))
            fed = inflater.unconsumed_tail
        else:  # all read: ISA-L holds the rest inflated, handed out as asked (zlib a little)
            out = inflater.decompress(b"", min(left, want - held)) or inflater.flush()[:left]
        if not out and (inflater.eof or not fed):
            raise EOFError(f"{name} inflates to less than its stated size")
        crc = _inflate.crc32(out, crc)
        left -= len(out)
        parts.append(out)
        held += len(out)
        if held >= want:
            yield parts
            parts, held, want = [], 0, size
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")
    if parts:
        yield parts


def _descriptor(zf: zipfile.ZipFile) -> int | None:
    """The open archive's file descriptor (read with pread: no position shared with zipfile), or
    None (an archive in memory)."""
    try:
        return zf.fp.fileno()  # type: ignore[union-attr]
    except (AttributeError, OSError):
        return None


def _by_zipfile(zf: zipfile.ZipFile, name: str, size: int, first: int | None) -> Iterator[bytes]:
    with zf.open(name) as stream:
        block = stream.read(size if first is None else first)
        while block:
            yield block
            block = stream.read(size)
