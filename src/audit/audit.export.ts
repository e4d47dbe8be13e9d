import type { Db } from '../kernel/db.ts'
import { badRequest } from '../kernel/errors.ts'
import { chainHead, firstSeqAtOrAfter, lastSeqBefore } from './audit.repository.ts'
import { type ChainPageRow, chainPageAsText, parseChainRow } from './chain-verification.ts'
import { CHAINED_COLUMNS, chainContent } from '../kernel/audit-chain.ts'
import { canonicalJson } from '../kernel/canonical-json.ts'
import { csvField, japanTime } from '../kernel/csv.ts'
import { TimeSlice } from '../kernel/time-slice.ts'

/**
 * Chain ranges, and the export of one.
 *
 * A range is a contiguous run of chain positions [fromSeq, toSeq]: that is what can be verified
 * link by link. Bounds given as positions are taken as they are (inclusive). Bounds given as
 * instants select the smallest contiguous run that holds every linked entry which occurred in
 * [from, to): the chain is in transaction order, which can differ from occurred_at order by the
 * length of a transaction, so a few entries just outside the instants may be included, never
 * one inside left out.
 */
export interface ChainRange {
  fromSeq: number
  toSeq: number
}

export async function resolveChainRange(db: Db, bounds: { from?: number | string; to?: number | string }): Promise<ChainRange> {
  const head = await chainHead(db)
  let fromSeq = 1
  let toSeq = head
  if (typeof bounds.from === 'number') fromSeq = bounds.from
  else if (typeof bounds.from === 'string') fromSeq = (await firstSeqAtOrAfter(db, instant(bounds.from, 'from'))) ?? head + 1
  if (typeof bounds.to === 'number') toSeq = Math.min(bounds.to, head)
  else if (typeof bounds.to === 'string') toSeq = (await lastSeqBefore(db, instant(bounds.to, 'to'))) ?? 0
  return { fromSeq, toSeq }
}

function instant(value: string, name: string): Date {
  const at = new Date(value)
  if (Number.isNaN(at.getTime()))
    throw badRequest({ id: 'audit.invalid_instant', params: { name } }, [{ pointer: `querystring/${name}`, message: 'field.invalid_date_time' }])
  return at
}

export type ExportFormat = 'ndjson' | 'csv'

/** The export's columns (CSV header, and the fields of each NDJSON line). */
const EXPORT_FIELDS = ['seq', ...CHAINED_COLUMNS, 'prev_hash', 'hash'] as const

const PAGE_SIZE = 1000

/**
 * The range as text chunks, one keyset page of the database at a time: memory stays flat for any
 * range, and a consumer that reads slowly slows the queries down (the stream pulls pages).
 * The range's end is fixed before the first page, and linked entries never change, so the pages
 * add up to one consistent run of the chain.
 *
 * Serialising a page is CPU work on the event loop: it is done in slices of a few milliseconds,
 * each handed to the stream, with a turn of the event loop between them, so that other requests
 * are answered while several exports run (issue 10 item 9; a worker thread was not needed).
 *
 * NDJSON: one object per entry: the hashed content (`chainContent`) plus prev_hash and hash.
 * CSV: the same columns, then `content`, the exact canonical JSON that was hashed.
 */
export async function* exportChain(db: Db, range: ChainRange, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield `${[...EXPORT_FIELDS, 'content'].join(',')}\r\n`
  const slice = new TimeSlice()
  let after = range.fromSeq - 1
  while (after < range.toSeq) {
    const texts = await chainPageAsText(db, after + 1, range.toSeq, PAGE_SIZE)
    if (texts.length === 0) return
    let chunk = ''
    let row: ChainPageRow | undefined
    for (const text of texts) {
      row = parseChainRow(text)
      const content = chainContent(row, row.chain_seq)
      if (format === 'ndjson') chunk += `${JSON.stringify({ ...content, prev_hash: row.prev_hash, hash: row.hash })}\n`
      else chunk += `${csvLine(content, row.prev_hash, row.hash)}\r\n`
      if (slice.due()) {
        yield chunk
        chunk = ''
        await slice.pause()
      }
    }
    if (chunk !== '') yield chunk
    after = row!.chain_seq
  }
}

// The readable columns are for people: the time in Japan time, and cells a spreadsheet would run
// as a formula (a path parameter can put "=HYPERLINK(…)" into resource_id) defused. `content`
// keeps the exact values (UTC) and is what verification uses.
function csvLine(content: Record<string, unknown>, prevHash: string, hash: string): string {
  const values = EXPORT_FIELDS.map((field) => {
    if (field === 'prev_hash') return prevHash
    if (field === 'hash') return hash
    const value = content[field]
    if (value === null || value === undefined) return ''
    if (field === 'occurred_at' && typeof value === 'string') return japanTime(value)
    if (typeof value === 'object') return JSON.stringify(value)
    return String(value)
  })
  return [...values.map((v) => csvField(v)), csvField(canonicalJson(content), { exact: true })].join(',')
}
