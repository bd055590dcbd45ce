#!/usr/bin/env python3
"""Crop a rendered page to its content and save it as a small PNG (stdlib only).

    python scripts/crop_picture.py IN.png OUT.png

Reads 8-bit RGB/RGBA PNG (what pdftoppm and Chromium write), trims the margin that has the
colour of the top-left pixel (leaving a few pixels), and writes an RGB PNG at zlib level 9 with
the Up filter, which keeps a screenshot of a spreadsheet well under 100 KB.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

MARGIN = 8


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and not interlace, f"{path}: unsupported PNG"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                upleft = prev[i - channels] if i >= channels else 0
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                line[i] = (line[i] + pred) & 0xFF
        prev = line
        if channels == 4:
            line = bytearray(b for n, b in enumerate(line) if n % 4 != 3)
        rows.append(bytes(line))
    return width, height, rows


def write_png(path: Path, rows: list[bytes], width: int) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for row in rows:  # filter 2 (Up): rows of a screenshot repeat, so most bytes become 0
        raw.append(2)
        raw.extend((a - b) & 0xFF for a, b in zip(row, prev, strict=True))
        prev = row
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


def crop(width: int, rows: list[bytes]) -> tuple[int, list[bytes]]:
    background = rows[0][:3]
    blank_row = background * width
    used = [y for y, row in enumerate(rows) if row != blank_row]
    if not used:
        return width, rows
    top, bottom = max(used[0] - MARGIN, 0), min(used[-1] + MARGIN + 1, len(rows))
    left, right = width, 0
    for row in rows[top:bottom]:
        xs = [x for x in range(width) if row[3 * x : 3 * x + 3] != background]
        if xs:
            left, right = min(left, xs[0]), max(right, xs[-1])
    left, right = max(left - MARGIN, 0), min(right + MARGIN + 1, width)
    return right - left, [row[3 * left : 3 * right] for row in rows[top:bottom]]


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    width, _, rows = read_png(source)
    width, rows = crop(width, rows)
    write_png(target, rows, width)


if __name__ == "__main__":
    main()
