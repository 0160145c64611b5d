// Writes the Pick-a-Pic-shaped parquet fixtures of tests/data/convert/ with three independent
// writers from the npm registry (none of prefscore's code is involved):
//   parquet-wasm 0.8.0 (arrow-rs) + apache-arrow 21.2.0, hyparquet-writer 0.17.0,
//   @dsnp/parquetjs 1.8.8.
// Run from a folder where those are installed:  node make_parquet_fixtures.mjs OUT_DIR JPEG_DIR
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import * as arrow from 'apache-arrow'
import { parquetWriteFile } from 'hyparquet-writer'

const require = createRequire(import.meta.url)
const wasm = require('parquet-wasm/node')
const parquetjs = require('@dsnp/parquetjs')

const [out, jpegDir] = process.argv.slice(2)
const U = (n) => `0b7e2c1a-0000-4000-8000-0000000000${n}`
const jpg = (uid) => new Uint8Array(fs.readFileSync(path.join(jpegDir, `${uid}.jpg`)))

// [caption, uid0, uid1, label_0, label_1, has_label, best_image_uid, ranking_id]
const validation = [
  ['a red fox in the snow', U('0a'), U('0b'), 1, 0, true, U('0a'), 5001n],
  ['a red fox in the snow', U('0a'), U('0c'), 0, 1, true, U('0c'), 5002n],
  ['Ciudad de México al atardecer, 東京タワー "quoted"', U('0d'), U('0e'), 0.5, 0.5, true, null, 5003n],
  ['a bowl of ramen', U('0f'), U('0b'), 1, 0, true, U('0f'), 5004n],
  ['a bowl of ramen', U('10'), U('11'), 0.5, 0.5, true, null, 5005n],
  ['a lighthouse at night', U('0c'), U('10'), 0, 1, false, U('10'), 5006n],
]
const test = [
  ['portrait of an old sailor, oil painting', U('12'), U('13'), 1, 0, true, U('12'), 7001n],
  ['portrait of an old sailor, oil painting', U('13'), U('0a'), 0.5, 0.5, true, null, 7002n],
  ['emoji \u{1F98A} fox', U('0b'), U('12'), 0, 1, true, U('12'), 7003n],
  ['a castle on a hill', U('0d'), U('0f'), 1, 0, true, U('0d'), 7004n],
  ['a castle on a hill', U('0e'), U('0d'), 0, 1, true, U('0d'), 7005n],
  ['tab\tand newline\nin a caption', U('0c'), U('0e'), 0.5, 0.5, true, null, 7006n],
]
const col = (rows, i) => rows.map((r) => r[i])

// 1. parquet-wasm (arrow-rs): data page v1, dictionary with PLAIN fallback (tiny dictionary page
//    limit), SNAPPY, two row groups of 3 rows, several pages per chunk, the full Pick-a-Pic schema.
{
  const rows = validation
  const t = new arrow.Table({
    are_different: arrow.vectorFromArray(rows.map(() => true), new arrow.Bool()),
    best_image_uid: arrow.vectorFromArray(col(rows, 6), new arrow.Utf8()),
    caption: arrow.vectorFromArray(col(rows, 0), new arrow.Utf8()),
    created_at: arrow.vectorFromArray(rows.map((_, i) => 1682000000000 + i),  // milliseconds, stored as ns
                                      new arrow.TimestampNanosecond()),
    has_label: arrow.vectorFromArray(col(rows, 5), new arrow.Bool()),
    image_0_uid: arrow.vectorFromArray(col(rows, 1), new arrow.Utf8()),
    image_0_url: arrow.vectorFromArray(col(rows, 1).map((u) => `https://example.invalid/${u}.png`), new arrow.Utf8()),
    image_1_uid: arrow.vectorFromArray(col(rows, 2), new arrow.Utf8()),
    image_1_url: arrow.vectorFromArray(col(rows, 2).map((u) => `https://example.invalid/${u}.png`), new arrow.Utf8()),
    jpg_0: arrow.vectorFromArray(col(rows, 1).map(jpg), new arrow.Binary()),
    jpg_1: arrow.vectorFromArray(col(rows, 2).map(jpg), new arrow.Binary()),
    label_0: arrow.vectorFromArray(col(rows, 3), new arrow.Float64()),
    label_1: arrow.vectorFromArray(col(rows, 4), new arrow.Float64()),
    model_0: arrow.vectorFromArray(rows.map(() => 'stable-diffusion-2-1'), new arrow.Utf8()),
    model_1: arrow.vectorFromArray(rows.map(() => 'sdxl-beta'), new arrow.Utf8()),
    ranking_id: arrow.vectorFromArray(col(rows, 7), new arrow.Int64()),
    user_id: arrow.vectorFromArray(rows.map(() => 42n), new arrow.Int64()),
    num_example_per_prompt: arrow.vectorFromArray(rows.map(() => 1n), new arrow.Int64()),
    __index_level_0__: arrow.vectorFromArray(rows.map((_, i) => BigInt(100 + i)), new arrow.Int64()),
  })
  const props = new wasm.WriterPropertiesBuilder()
    .setWriterVersion(wasm.WriterVersion.V1)
    .setCompression(wasm.Compression.SNAPPY)
    .setDictionaryEnabled(true)
    .setDictionaryPageSizeLimit(1500)
    .setDataPageSizeLimit(1000)
    .setWriteBatchSize(1)
    .setMaxRowGroupSize(3)
    .build()
  const bytes = wasm.writeParquet(wasm.Table.fromIPCStream(arrow.tableToIPC(t, 'stream')), props)
  fs.writeFileSync(path.join(out, 'pickapic_validation_arrowrs.parquet'), bytes)
}

// 2. hyparquet-writer: data page v2, dictionary where it pays (captions, models), SNAPPY except
//    two UNCOMPRESSED columns, two row groups of 3 rows, nullable best_image_uid.
function hyparquetColumns(rows, { dropLabel1 = false } = {}) {
  const columns = [
    { name: 'are_different', data: rows.map(() => true), type: 'BOOLEAN' },
    { name: 'best_image_uid', data: col(rows, 6), type: 'STRING', nullable: true },
    { name: 'caption', data: col(rows, 0), type: 'STRING' },
    { name: 'created_at', data: rows.map((_, i) => new Date(1682000000000 + i)), type: 'TIMESTAMP' },
    { name: 'has_label', data: col(rows, 5), type: 'BOOLEAN' },
    { name: 'image_0_uid', data: col(rows, 1), type: 'STRING' },
    { name: 'image_1_uid', data: col(rows, 2), type: 'STRING' },
    { name: 'jpg_0', data: col(rows, 1).map(jpg), type: 'BYTE_ARRAY', codec: 'UNCOMPRESSED' },
    { name: 'jpg_1', data: col(rows, 2).map(jpg), type: 'BYTE_ARRAY' },
    { name: 'label_0', data: col(rows, 3), type: 'DOUBLE', codec: 'UNCOMPRESSED' },
    { name: 'label_1', data: col(rows, 4), type: 'DOUBLE' },
    { name: 'model_0', data: rows.map(() => 'stable-diffusion-2-1'), type: 'STRING' },
    { name: 'ranking_id', data: col(rows, 7), type: 'INT64' },
  ]
  return dropLabel1 ? columns.filter((c) => c.name !== 'label_1') : columns
}
parquetWriteFile({
  filename: path.join(out, 'pickapic_test_hyparquet.parquet'),
  columnData: hyparquetColumns(test),
  codec: 'SNAPPY',
  rowGroupSize: 3,
})
// Malformed inputs: no label_1 column; a label pair that is none of 1/0, 0/1, 0.5/0.5.
parquetWriteFile({
  filename: path.join(out, 'pickapic_missing_label_1.parquet'),
  columnData: hyparquetColumns(test.slice(0, 2), { dropLabel1: true }),
})
parquetWriteFile({
  filename: path.join(out, 'pickapic_bad_label.parquet'),
  columnData: hyparquetColumns([test[0], ['a bad label', U('0a'), U('0b'), 0.3, 0.7, true, null, 9001n]]),
})

// 3. @dsnp/parquetjs: data page v1, PLAIN only, GZIP, optional (nullable) columns, two row groups.
{
  const schema = new parquetjs.ParquetSchema({
    caption: { type: 'UTF8', compression: 'GZIP' },
    image_0_uid: { type: 'UTF8', compression: 'GZIP' },
    image_1_uid: { type: 'UTF8', compression: 'GZIP' },
    jpg_0: { type: 'BYTE_ARRAY', compression: 'GZIP' },
    jpg_1: { type: 'BYTE_ARRAY', compression: 'GZIP' },
    label_0: { type: 'DOUBLE', compression: 'GZIP' },
    label_1: { type: 'DOUBLE', compression: 'GZIP' },
    has_label: { type: 'BOOLEAN', optional: true, compression: 'GZIP' },
    best_image_uid: { type: 'UTF8', optional: true, compression: 'GZIP' },
    ranking_id: { type: 'INT64', compression: 'GZIP' },
    num_example_per_prompt: { type: 'INT32', optional: true, compression: 'GZIP' },
  })
  const rows = [
    ['a red fox', U('0a'), U('0b'), 1, 0, true, U('0a'), 3001n],
    ['a red fox', U('0b'), U('0c'), 0.5, 0.5, null, null, 3002n],
    ['un zorro rojo, ñandú', U('0c'), U('0d'), 0, 1, true, U('0d'), 3003n],
    ['a red fox', U('0d'), U('0a'), 1, 0, false, null, 3004n],
  ]
  const w = await parquetjs.ParquetWriter.openFile(schema, path.join(out, 'pickapic_test_parquetjs_gzip.parquet'),
                                                   { useDataPageV2: false })
  w.setRowGroupSize(2)
  for (const [i, r] of rows.entries()) {
    const row = {
      caption: r[0], image_0_uid: r[1], image_1_uid: r[2],
      jpg_0: Buffer.from(jpg(r[1])), jpg_1: Buffer.from(jpg(r[2])),
      label_0: r[3], label_1: r[4], ranking_id: r[7],
    }
    if (r[5] !== null) row.has_label = r[5]
    if (r[6] !== null) row.best_image_uid = r[6]
    if (i !== 2) row.num_example_per_prompt = 2
    await w.appendRow(row)
  }
  await w.close()
}
