// Dev-time cross-check: dump a parquet file with hyparquet (independent reader) as JSON lines.
import fs from 'node:fs'
import { parquetReadObjects, parquetMetadata } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
const buf = fs.readFileSync(process.argv[2])
const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
const rows = await parquetReadObjects({ file, compressors, utf8: false })
const enc = (v) => v instanceof Uint8Array ? { base64: Buffer.from(v).toString('base64') }
  : typeof v === 'bigint' ? Number(v) : v instanceof Date ? { date_ms: v.getTime() } : v
for (const r of rows) console.log(JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, enc(v)]))))
