#!/usr/bin/env python3
"""A small pure-Python Parquet reader for flat tables (Debian 12 has no python3-pyarrow).

Reads what the Hugging Face hub's Pick-a-Pic parquet files need, following the format spec
(apache/parquet-format src/main/thrift/parquet.thrift, Encodings.md):
  - footer and page headers in the Thrift compact protocol;
  - data pages v1 and v2, dictionary pages;
  - encodings PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY, and RLE for booleans, with a chunk free to
    switch from dictionary to PLAIN part-way (pyarrow does when the dictionary grows too big);
  - RLE/bit-packed hybrid definition levels of optional (nullable) columns;
  - codecs UNCOMPRESSED, SNAPPY (pure-Python decompressor below) and GZIP (zlib);
  - physical types BOOLEAN, INT32, INT64, FLOAT, DOUBLE, BYTE_ARRAY (str when annotated UTF8 /
    STRING, bytes otherwise).
Anything else (nested or repeated columns, INT96, other encodings or codecs) raises ParquetError
naming the file and the unsupported feature, and only when a requested column needs it.

Usage as a module: `read_columns(path, ["caption", "jpg_0"])` -> ({name: [values]}, num_rows).
Usage as a tool (a dump for checking against another reader):
  python3 scripts/parquet_lite.py FILE.parquet [COLUMN...]   # one JSON object per row on stdout;
  bytes values are written as {"base64": "..."}.
"""
import base64
import json
import struct
import sys
import zlib

# parquet.thrift enums
TYPE_NAMES = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
              "FIXED_LEN_BYTE_ARRAY"]
ENCODING_NAMES = {0: "PLAIN", 2: "PLAIN_DICTIONARY", 3: "RLE", 4: "BIT_PACKED",
                  5: "DELTA_BINARY_PACKED", 6: "DELTA_LENGTH_BYTE_ARRAY", 7: "DELTA_BYTE_ARRAY",
                  8: "RLE_DICTIONARY", 9: "BYTE_STREAM_SPLIT"}
CODEC_NAMES = ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"]
PAGE_DATA_V1, PAGE_INDEX, PAGE_DICTIONARY, PAGE_DATA_V2 = 0, 1, 2, 3
REQUIRED, OPTIONAL, REPEATED = 0, 1, 2
CONVERTED_UTF8 = 0
PLAIN, PLAIN_DICTIONARY, RLE, RLE_DICTIONARY = 0, 2, 3, 8

MAGIC = b"PAR1"


class ParquetError(Exception):
    """A file that cannot be read: str() is 'path: reason'."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class _Malformed(Exception):
    """Raised deep inside the decoders; turned into ParquetError with the file and column."""


# ---------------------------------------------------------------------------------------------
# Thrift compact protocol: structs decode to {field_id: value}, lists to lists, binary to bytes.

_CT_STOP, _CT_TRUE, _CT_FALSE, _CT_BYTE, _CT_I16, _CT_I32, _CT_I64, _CT_DOUBLE = range(8)
_CT_BINARY, _CT_LIST, _CT_SET, _CT_MAP, _CT_STRUCT = 8, 9, 10, 11, 12


class _ThriftReader:
    def __init__(self, buf, pos=0, end=None):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise _Malformed("Thrift data ends early")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise _Malformed("Thrift varint longer than 10 bytes")

    def zigzag(self):
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, ctype):
        if ctype in (_CT_TRUE, _CT_FALSE):  # inside a list: one byte, 1 = true
            return self.byte() == _CT_TRUE
        if ctype == _CT_BYTE:
            b = self.byte()
            return b - 256 if b > 127 else b
        if ctype in (_CT_I16, _CT_I32, _CT_I64):
            return self.zigzag()
        if ctype == _CT_DOUBLE:
            if self.pos + 8 > self.end:
                raise _Malformed("Thrift data ends early")
            self.pos += 8
            return struct.unpack_from("<d", self.buf, self.pos - 8)[0]
        if ctype == _CT_BINARY:
            n = self.varint()
            if self.pos + n > self.end:
                raise _Malformed("Thrift binary field runs past the end")
            self.pos += n
            return bytes(self.buf[self.pos - n:self.pos])
        if ctype in (_CT_LIST, _CT_SET):
            header = self.byte()
            size, etype = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            return [self.value(etype) for _ in range(size)]
        if ctype == _CT_MAP:
            size = self.varint()
            if size == 0:
                return {}
            kv = self.byte()
            return {self.value(kv >> 4): self.value(kv & 0x0F) for _ in range(size)}
        if ctype == _CT_STRUCT:
            return self.struct()
        raise _Malformed(f"unknown Thrift compact type {ctype}")

    def struct(self):
        fields = {}
        last_id = 0
        while True:
            header = self.byte()
            if header == _CT_STOP:
                return fields
            delta, ctype = header >> 4, header & 0x0F
            field_id = last_id + delta if delta else self.zigzag()
            if ctype == _CT_TRUE:
                fields[field_id] = True
            elif ctype == _CT_FALSE:
                fields[field_id] = False
            else:
                fields[field_id] = self.value(ctype)
            last_id = field_id


# ---------------------------------------------------------------------------------------------
# Codecs


def snappy_decompress(data):
    """Raw (unframed) Snappy, as Parquet stores it (google/snappy format_description.txt)."""
    data = memoryview(data)
    pos = 0
    expected = shift = 0
    while True:  # preamble: the uncompressed length as a varint
        if pos >= len(data):
            raise _Malformed("snappy data ends in its length preamble")
        b = data[pos]
        pos += 1
        expected |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 35:
            raise _Malformed("snappy length preamble is too long")
    out = bytearray()
    n = len(data)
    while pos < n:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                if pos + extra > n:
                    raise _Malformed("snappy literal length runs past the end")
                length = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            length += 1
            if pos + length > n:
                raise _Malformed("snappy literal runs past the end of the compressed data")
            out += data[pos:pos + length]
            pos += length
            continue
        if kind == 1:
            if pos + 1 > n:
                raise _Malformed("snappy copy runs past the end")
            length = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            if pos + 2 > n:
                raise _Malformed("snappy copy runs past the end")
            length = (tag >> 2) + 1
            offset = data[pos] | (data[pos + 1] << 8)
            pos += 2
        else:
            if pos + 4 > n:
                raise _Malformed("snappy copy runs past the end")
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise _Malformed(f"snappy copy offset {offset} outside the {len(out)} bytes so far")
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # overlapping copy: the last `offset` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
    if len(out) != expected:
        raise _Malformed(f"snappy data decompresses to {len(out)} bytes, its header says "
                         f"{expected}")
    return bytes(out)


def _gzip_decompress(data):
    out = []
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip members, possibly concatenated
        out.append(d.decompress(data))
        if not d.eof:
            raise _Malformed("GZIP data ends early")
        data = d.unused_data
    return b"".join(out)


def _decompress(codec, data, uncompressed_size):
    if codec == 0:
        out = bytes(data)
    elif codec == 1:
        out = snappy_decompress(data)
    elif codec == 2:
        try:
            out = _gzip_decompress(bytes(data))
        except zlib.error as e:
            raise _Malformed(f"GZIP data is corrupt ({e})")
    else:
        name = CODEC_NAMES[codec] if 0 <= codec < len(CODEC_NAMES) else str(codec)
        raise _Unsupported(f"compression codec {name} is not supported "
                           "(supported: UNCOMPRESSED, SNAPPY, GZIP)")
    if len(out) != uncompressed_size:
        raise _Malformed(f"page decompresses to {len(out)} bytes, its header says "
                         f"{uncompressed_size}")
    return out


class _Unsupported(Exception):
    """A feature this reader does not implement."""


# ---------------------------------------------------------------------------------------------
# Encodings


def _rle_bitpacked_hybrid(buf, pos, end, bit_width, count):
    """Decodes `count` values of the RLE/bit-packed hybrid (Encodings.md) from buf[pos:end]."""
    out = []
    mask = (1 << bit_width) - 1
    value_bytes = (bit_width + 7) // 8
    while len(out) < count:
        if pos >= end:
            raise _Malformed(f"RLE/bit-packed data ends after {len(out)} of {count} values")
        header = shift = 0
        while True:
            if pos >= end:
                raise _Malformed("RLE/bit-packed run header ends early")
            b = buf[pos]
            pos += 1
            header |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
        if header & 1:  # bit-packed: (header >> 1) groups of 8 values, LSB first
            groups = header >> 1
            take = min(groups * 8, count - len(out))
            if bit_width == 0:
                out.extend([0] * take)
                continue
            nbytes = groups * bit_width
            if pos + nbytes > end:
                # The last group of a page may be cut short; the values needed must be there.
                if pos + (take * bit_width + 7) // 8 > end:
                    raise _Malformed("bit-packed run ends early")
                nbytes = end - pos
            bits = int.from_bytes(buf[pos:pos + nbytes], "little")
            pos += nbytes
            out.extend((bits >> (i * bit_width)) & mask for i in range(take))
        else:  # run of one repeated value
            run = header >> 1
            if pos + value_bytes > end:
                raise _Malformed("RLE run value ends early")
            value = int.from_bytes(buf[pos:pos + value_bytes], "little")
            pos += value_bytes
            out.extend([value] * min(run, count - len(out)))
    return out, pos


def _plain(buf, ptype, count):
    """Decodes `count` PLAIN values of physical type `ptype` from buf; returns (values, end)."""
    if ptype == 0:  # BOOLEAN: bit-packed, LSB first
        need = (count + 7) // 8
        if need > len(buf):
            raise _Malformed(f"PLAIN BOOLEAN data has {len(buf)} bytes, {need} needed")
        bits = int.from_bytes(buf[:need], "little")
        return [bool((bits >> i) & 1) for i in range(count)], need
    fixed = {1: ("<%di", 4), 2: ("<%dq", 8), 4: ("<%df", 4), 5: ("<%dd", 8)}
    if ptype in fixed:
        fmt, size = fixed[ptype]
        if count * size > len(buf):
            raise _Malformed(f"PLAIN {TYPE_NAMES[ptype]} data has {len(buf)} bytes, "
                             f"{count * size} needed for {count} values")
        return list(struct.unpack_from(fmt % count, buf, 0)), count * size
    if ptype == 6:  # BYTE_ARRAY: 4-byte little-endian length + bytes
        out = []
        pos = 0
        n = len(buf)
        for _ in range(count):
            if pos + 4 > n:
                raise _Malformed(f"PLAIN BYTE_ARRAY data ends after {len(out)} of {count} values")
            length = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
            if pos + length > n:
                raise _Malformed(f"PLAIN BYTE_ARRAY value {len(out)} ({length} bytes) runs past "
                                 "the end of its page")
            out.append(bytes(buf[pos:pos + length]))
            pos += length
        return out, pos
    raise _Unsupported(f"physical type {TYPE_NAMES[ptype]} is not supported "
                       "(supported: BOOLEAN, INT32, INT64, FLOAT, DOUBLE, BYTE_ARRAY)")


# ---------------------------------------------------------------------------------------------
# File structure


class _Column:
    """A leaf column of the schema."""

    def __init__(self, name, element, max_def, max_rep, depth):
        self.name = name
        self.ptype = element.get(1)
        self.max_def = max_def
        self.max_rep = max_rep
        self.depth = depth
        logical = element.get(10) or {}
        # ConvertedType UTF8, or LogicalType STRING (1) / ENUM (4) / JSON (7): text.
        self.is_text = element.get(6) == CONVERTED_UTF8 or any(k in logical for k in (1, 4, 7))


class ParquetFile:
    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.buf = f.read()
        except OSError as e:
            raise ParquetError(path, f"cannot read ({e.strerror})")
        buf = self.buf
        if len(buf) < 12 or buf[:4] != MAGIC or buf[-4:] != MAGIC:
            raise ParquetError(path, f"not a Parquet file or truncated ({len(buf)} bytes; expected "
                                     "'PAR1' at both ends)")
        footer_len = int.from_bytes(buf[-8:-4], "little")
        if footer_len + 12 > len(buf):
            raise ParquetError(path, f"footer length {footer_len} exceeds the file size "
                                     f"{len(buf)} (truncated?)")
        try:
            meta = _ThriftReader(buf, len(buf) - 8 - footer_len, len(buf) - 8).struct()
        except _Malformed as e:
            raise ParquetError(path, f"corrupt footer: {e}")
        self.num_rows = meta.get(3, 0)
        self.row_groups = meta.get(4, [])
        self.columns = {}
        self.column_order = []
        schema = meta.get(2, [])
        if not schema:
            raise ParquetError(path, "footer has no schema")
        self._walk_schema(schema)

    def _walk_schema(self, schema):
        # Depth-first: schema[0] is the root; num_children (field 5) marks groups.
        pos = 1

        def visit(prefix, max_def, max_rep, children):
            nonlocal pos
            for _ in range(children):
                if pos >= len(schema):
                    raise ParquetError(self.path, "schema ends before all children are listed")
                el = schema[pos]
                pos += 1
                name = el.get(4, b"").decode("utf-8", "replace")
                rep = el.get(3, REQUIRED)
                d = max_def + (rep != REQUIRED)
                r = max_rep + (rep == REPEATED)
                full = prefix + [name]
                if el.get(5):
                    visit(full, d, r, el[5])
                else:
                    col = _Column(".".join(full), el, d, r, len(full))
                    self.columns[col.name] = col
                    self.column_order.append(col.name)

        visit([], 0, 0, schema[0].get(5, 0))

    def read(self, names=None):
        """{name: [values for every row]}; None for nulls."""
        names = list(self.column_order if names is None else names)
        for name in names:
            if name not in self.columns:
                raise ParquetError(self.path, f"no column '{name}' (columns: "
                                              f"{', '.join(self.column_order)})")
            col = self.columns[name]
            if col.depth != 1 or col.max_rep:
                raise ParquetError(self.path, f"column '{name}': nested or repeated columns are "
                                              "not supported (flat schemas only)")
        out = {name: [] for name in names}
        index = {name: i for i, name in enumerate(self.column_order)}
        for g, group in enumerate(self.row_groups):
            chunks = group.get(1, [])
            rows = group.get(3, 0)
            for name in names:
                i = index[name]
                if i >= len(chunks):
                    raise ParquetError(self.path, f"row group {g} has no chunk for column '{name}'")
                try:
                    values = self._read_chunk(self.columns[name], chunks[i], rows)
                except _Unsupported as e:
                    raise ParquetError(self.path, f"column '{name}', row group {g}: {e}")
                except _Malformed as e:
                    raise ParquetError(self.path, f"column '{name}', row group {g}: corrupt or "
                                                  f"truncated data: {e}")
                out[name].extend(values)
        for name in names:
            if len(out[name]) != self.num_rows:
                raise ParquetError(self.path, f"column '{name}' has {len(out[name])} values, "
                                              f"the footer says {self.num_rows} rows")
        return out

    def _read_chunk(self, col, chunk, rows):
        if chunk.get(1):
            raise _Unsupported("column chunks in another file (file_path) are not supported")
        meta = chunk.get(3)
        if meta is None:
            raise _Malformed("column chunk has no metadata")
        codec = meta.get(4, 0)
        num_values = meta.get(5, 0)
        start = meta.get(9)
        if meta.get(11):  # dictionary_page_offset, when set, is where the chunk begins
            start = min(start, meta[11]) if start is not None else meta[11]
        if start is None:
            raise _Malformed("column chunk has no data page offset")
        end = start + meta.get(7, 0)
        if end > len(self.buf) - 8:
            raise _Malformed(f"column chunk [{start}, {end}) runs past the data "
                             f"({len(self.buf)} byte file)")
        values = []
        dictionary = None
        seen = 0
        pos = start
        while seen < num_values:
            if pos >= end:
                raise _Malformed(f"chunk ends after {seen} of {num_values} values")
            reader = _ThriftReader(self.buf, pos, end)
            header = reader.struct()
            pos = reader.pos
            page_type = header.get(1)
            uncompressed = header.get(2, 0)
            compressed = header.get(3, 0)
            if pos + compressed > end:
                raise _Malformed(f"page of {compressed} bytes runs past the end of its chunk")
            body = memoryview(self.buf)[pos:pos + compressed]
            pos += compressed
            if page_type == PAGE_DICTIONARY:
                dh = header.get(7, {})
                if dh.get(2, PLAIN) not in (PLAIN, PLAIN_DICTIONARY):
                    raise _Unsupported(f"dictionary page encoding "
                                       f"{ENCODING_NAMES.get(dh.get(2), dh.get(2))}")
                data = _decompress(codec, body, uncompressed)
                dictionary, _ = _plain(data, col.ptype, dh.get(1, 0))
                if col.is_text:
                    dictionary = [self._text(v) for v in dictionary]
            elif page_type == PAGE_DATA_V1:
                dh = header.get(5, {})
                n = dh.get(1, 0)
                if not 0 <= n <= rows - len(values):
                    raise _Malformed(f"a page of {n} values where {rows - len(values)} rows remain")
                data = _decompress(codec, body, uncompressed)
                dpos = 0
                defs = None
                if col.max_def:
                    if dh.get(3, RLE) != RLE:
                        raise _Unsupported(f"definition level encoding "
                                           f"{ENCODING_NAMES.get(dh.get(3), dh.get(3))}")
                    if len(data) < 4:
                        raise _Malformed("data page ends in its definition levels")
                    length = int.from_bytes(data[:4], "little")
                    if 4 + length > len(data):
                        raise _Malformed("definition levels run past the end of the page")
                    defs, _ = _rle_bitpacked_hybrid(data, 4, 4 + length,
                                                    col.max_def.bit_length(), n)
                    dpos = 4 + length
                values.extend(self._page_values(col, dh.get(2, PLAIN), data[dpos:], n, defs,
                                                dictionary))
                seen += n
            elif page_type == PAGE_DATA_V2:
                dh = header.get(8, {})
                n = dh.get(1, 0)
                if not 0 <= n <= rows - len(values):
                    raise _Malformed(f"a page of {n} values where {rows - len(values)} rows remain")
                def_len = dh.get(5, 0)
                rep_len = dh.get(6, 0)
                if rep_len + def_len > len(body):
                    raise _Malformed("v2 page levels run past the end of the page")
                defs = None
                if col.max_def:
                    defs, _ = _rle_bitpacked_hybrid(body, rep_len, rep_len + def_len,
                                                    col.max_def.bit_length(), n)
                rest = body[rep_len + def_len:]
                if dh.get(7, True):  # is_compressed: only the values are compressed in v2
                    data = _decompress(codec, rest, uncompressed - rep_len - def_len)
                else:
                    data = bytes(rest)
                values.extend(self._page_values(col, dh.get(4, PLAIN), data, n, defs, dictionary))
                seen += n
            elif page_type == PAGE_INDEX:
                continue
            else:
                raise _Unsupported(f"page type {page_type}")
        if len(values) != rows:
            raise _Malformed(f"chunk holds {len(values)} values for {rows} rows")
        return values

    def _page_values(self, col, encoding, data, n, defs, dictionary):
        present = n if defs is None else sum(1 for d in defs if d == col.max_def)
        if encoding == PLAIN:
            vals, _ = _plain(data, col.ptype, present)
            if col.is_text:
                vals = [self._text(v) for v in vals]
        elif encoding in (PLAIN_DICTIONARY, RLE_DICTIONARY):
            if dictionary is None:
                raise _Malformed("dictionary-encoded page without a dictionary page")
            if present == 0:
                vals = []
            else:
                if len(data) < 1:
                    raise _Malformed("dictionary-encoded page has no bit width")
                idx, _ = _rle_bitpacked_hybrid(data, 1, len(data), data[0], present)
                try:
                    vals = [dictionary[i] for i in idx]
                except IndexError:
                    raise _Malformed(f"dictionary index out of range ({len(dictionary)} entries)")
        elif encoding == RLE and col.ptype == 0:  # booleans: 4-byte length + hybrid, width 1
            if len(data) < 4:
                raise _Malformed("RLE boolean page has no length")
            length = int.from_bytes(data[:4], "little")
            bits, _ = _rle_bitpacked_hybrid(data, 4, min(4 + length, len(data)), 1, present)
            vals = [bool(b) for b in bits]
        else:
            raise _Unsupported(f"encoding {ENCODING_NAMES.get(encoding, encoding)} is not "
                               "supported (supported: PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY, "
                               "RLE for BOOLEAN)")
        if defs is None:
            return vals
        it = iter(vals)
        return [next(it) if d == col.max_def else None for d in defs]

    def _text(self, value):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Malformed(f"a STRING value is not valid UTF-8 ({e.reason} at byte {e.start})")


def read_columns(path, names=None):
    """Reads the named columns (all when None) of a flat Parquet file: ({name: [values]}, rows)."""
    try:
        f = ParquetFile(path)
        return f.read(names), f.num_rows
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, struct.error) as e:
        # Metadata of the wrong shape (e.g. a list where a struct belongs) in a damaged file.
        raise ParquetError(path, f"corrupt file ({type(e).__name__}: {e})")


def _json_value(v):
    if isinstance(v, bytes):
        return {"base64": base64.b64encode(v).decode("ascii")}
    return v


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    try:
        columns, rows = read_columns(argv[1], argv[2:] or None)
    except ParquetError as e:
        print(f"parquet_lite.py: {e}", file=sys.stderr)
        return 1
    for i in range(rows):
        row = {name: _json_value(values[i]) for name, values in columns.items()}
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
