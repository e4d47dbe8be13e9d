import pg from 'pg'
import { connectPostgres, type DatabaseHandle } from '../src/kernel/db.ts'
import { migrateToLatest } from '../src/kernel/migrations.ts'

/** Shared pieces of the benchmark: a fresh PostgreSQL database, statistics, tables. */

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** Drops and recreates a database, migrates it and returns a handle. */
export async function freshDatabase(name: string, poolSize = 20): Promise<DatabaseHandle> {
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`drop database if exists "${name}" with (force)`)
  await admin.query(`create database "${name}"`)
  await admin.end()
  const handle = connectPostgres(databaseUrl(name), poolSize)
  await migrateToLatest(handle)
  return handle
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`drop database if exists "${name}" with (force)`)
  await admin.end()
}

export interface LatencyStats {
  requests: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
  max_ms: number
}

export function latencyStats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(2))
  return { requests: sorted.length, p50_ms: at(50), p95_ms: at(95), p99_ms: at(99), max_ms: Number(sorted[sorted.length - 1]!.toFixed(2)) }
}

export function printTable(rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return
  const columns = Object.keys(rows[0]!)
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)))
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ')
  process.stdout.write(`${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`)
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => String(r[c])))}\n`)
}
