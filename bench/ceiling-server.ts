import Fastify from 'fastify'
import pg from 'pg'

/**
 * The ceiling: the fastest thing this stack does per request — Fastify and a pg pool, one
 * INSERT or one primary-key SELECT, no auth, no validation, no audit. The service's scenarios
 * are reported as a fraction of this server's throughput on the same database.
 */
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) })
const app = Fastify({ logger: false })

app.post('/insert', async (request) => {
  const { rows } = await pool.query('insert into bench_ceiling (payload) values ($1) returning id', [JSON.stringify(request.body ?? {})])
  return rows[0]
})
app.get('/select/:id', async (request) => {
  const { rows } = await pool.query('select id, payload from bench_ceiling where id = $1', [(request.params as { id: string }).id])
  return rows[0] ?? {}
})

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
process.stdout.write(`listening ${JSON.stringify(app.server.address())}\n`)
process.on(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0)),
)
