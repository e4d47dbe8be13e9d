import type { Compilable, CompiledQuery, QueryResult, RawBuilder } from 'kysely'
import type { Queryable } from './db.ts'

/** Where a query built once takes a value given on each execution. */
class Slot {
  readonly name: string
  constructor(name: string) {
    this.name = name
  }
}

/** A query builder, or a sql`` template. */
type Built<R> = Compilable<R> | RawBuilder<R>

interface Template {
  compiled: CompiledQuery<unknown>
  /** The value's name for each parameter of `compiled`, in order. */
  slots: string[]
}

/**
 * Queries of one kind built and compiled with Kysely once per shape, then executed with each
 * request's values: building and compiling a query on every request was 6.5–15 % of the service's
 * CPU on its hot routes (docs/benchmarks.md). The statement still goes through the Queryable it is
 * executed on (the request's transaction or the pool), so it is counted and named as any other.
 *
 * `build` gets stand-ins for the values (`p.id`), each becoming a parameter of the compiled SQL;
 * the caller's `shape` names everything else the SQL depends on (a reach that adds or drops a
 * condition, which optional filters are present). Every parameter must come from a stand-in: a
 * value written into the query itself would be kept for every later execution of the shape (one
 * caller's id answering another's request), so compiling refuses it. Constants of the query are
 * written into its text instead (`sql.lit`). At most `max` shapes are kept (oldest dropped first).
 */
export class CompiledQueries {
  readonly #templates = new Map<string, Template>()

  private readonly kind: string
  private readonly max: number

  constructor(kind: string, max = 64) {
    this.kind = kind
    this.max = max
  }

  async execute<V extends Record<string, unknown>, R>(q: Queryable, shape: string, values: V, build: (p: V) => Built<R>): Promise<QueryResult<R>> {
    let template = this.#templates.get(shape)
    if (!template) {
      template = this.#compile(q, shape, values, build as (p: V) => Built<unknown>)
      if (this.#templates.size >= this.max) this.#templates.delete(this.#templates.keys().next().value!)
      this.#templates.set(shape, template)
    }
    const { compiled, slots } = template
    const parameters = slots.map((name) => values[name])
    return q.executeQuery<R>({ ...compiled, parameters } as CompiledQuery<R>)
  }

  #compile<V extends Record<string, unknown>>(q: Queryable, shape: string, values: V, build: (p: V) => Built<unknown>): Template {
    const standIns = Object.fromEntries(Object.keys(values).map((name) => [name, new Slot(name)])) as unknown as V
    // A query builder compiles by itself; a sql`` template with the dialect of `q`.
    const compiled = (build(standIns) as RawBuilder<unknown>).compile(q)
    const slots = compiled.parameters.map((parameter, i) => {
      if (parameter instanceof Slot) return parameter.name
      throw new Error(`${this.kind} (${shape}): parameter $${i + 1} is not one of the values given per execution`)
    })
    return { compiled, slots }
  }
}
