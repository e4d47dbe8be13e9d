import { Type, type TSchema } from 'typebox'
import { badRequest } from './errors.ts'

/**
 * Cursor pagination: `limit` and an opaque `cursor` in, `items` and `next_cursor` out.
 * The cursor carries the sort key of the last item returned (keyset pagination), so pages stay
 * correct while rows are added and every page is an index range scan.
 */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size (1–200, default 50)' })),
  cursor: Type.Optional(Type.String({ maxLength: 500, description: 'next_cursor from the previous page' })),
}

export function pageOf<T extends TSchema>(item: T, id: string) {
  return Type.Object(
    {
      items: Type.Array(item),
      next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor to get the next page; null on the last page' }),
    },
    { $id: id, additionalProperties: false },
  )
}

export type CursorValue = string | number | boolean | null

export function encodeCursor(values: readonly CursorValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url')
}

/** The sort key in a cursor; 400 when it was not made by this service for this listing. */
export function decodeCursor(cursor: string, arity: number): CursorValue[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (Array.isArray(values) && values.length === arity && values.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))) {
      return values as CursorValue[]
    }
  } catch {
    // fall through
  }
  throw badRequest('pagination.cursor_unknown', [{ pointer: 'querystring/cursor', message: 'pagination.cursor_invalid' }])
}

/**
 * Splits a page fetched with limit + 1 rows into the page and the cursor of the next one.
 * `key` gives the sort key of a row.
 */
export function paginate<Row>(rows: Row[], limit: number, key: (row: Row) => CursorValue[]): { page: Row[]; nextCursor: string | null } {
  if (rows.length <= limit) return { page: rows, nextCursor: null }
  const page = rows.slice(0, limit)
  return { page, nextCursor: encodeCursor(key(page[page.length - 1]!)) }
}
