import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * The embedded database's folder serves one process at a time. The embedded engine (PGlite) is
 * single-process and does not notice a second one on its folder: both run, their data splits,
 * and the folder may never open again. So every process that opens the folder (the service and
 * every CLI) first takes an exclusive lock on `<folder>.lock` and holds it for its whole life.
 *
 * The lock is an advisory lock held by the operating system on an open file (fcntl open-file-
 * description lock on Linux, flock on macOS, LockFileEx on Windows, through fs-native-extensions).
 * The kernel drops it when the holder's file is closed, and so when the process dies for any
 * reason, kill -9 included: a crash never leaves a stale lock behind. The file's content (pid,
 * program, port, start time) only names the holder in the refusal; it is never what decides.
 */

/** Who holds a data folder, as its lock file says. */
interface LockHolder {
  pid: number
  /** What is running: the service, or which command. */
  program: string
  /** The service's port once it listens; null for commands. */
  port: number | null
  started_at: string
  hostname: string
}

export interface DataFolderLock {
  folder: string
  file: string
  /** Adds the port to what the lock file says about this process (the service, once it listens). */
  setPort(port: number): void
  /** Lets go of the folder (closing the database does it); safe to call twice. */
  release(): void
}

/** Another live process holds the folder. */
class DataFolderInUse extends Error {
  override name = 'DataFolderInUse'
  readonly folder: string
  readonly holder: LockHolder | null
  constructor(folder: string, holder: LockHolder | null) {
    super(`the data folder ${folder} is in use by ${describeHolder(holder)}`)
    this.folder = folder
    this.holder = holder
  }
}

/** The folder's database did not open: damaged, or not a database at all. */
export class EmbeddedDatabaseUnreadable extends Error {
  override name = 'EmbeddedDatabaseUnreadable'
  readonly folder: string
  constructor(folder: string, cause: unknown) {
    super(
      `the embedded database in ${folder} could not be opened (${engineMessage(cause)}); if it is damaged, restore your last backup into it with ` +
        `npm run restore -- --from <file> --force (README, "Backup and restore")`,
      { cause },
    )
    this.folder = folder
  }
}

/** Folder locks cannot be taken here (no lock support for this platform). */
class DataFolderLockUnavailable extends Error {
  override name = 'DataFolderLockUnavailable'
}

/**
 * The one line a process prints when it cannot use the data folder, with what to do: the service
 * is told to leave the folder to its holder; a command, to stop the service or use PostgreSQL;
 * backup and restore (which only work on the folder), to stop the service. Undefined for any
 * other error.
 */
export function dataFolderProblem(error: unknown, audience: 'service' | 'command' | 'backup'): string | undefined {
  if (error instanceof DataFolderInUse) {
    const advice = {
      service: 'one data folder serves one process; stop that one, or start this one with its own DATA_DIR (or DATABASE_URL)',
      command: 'stop the service, or set DATABASE_URL',
      backup: 'stop the service first',
    }[audience]
    return `${error.message}: ${advice}`
  }
  if (error instanceof EmbeddedDatabaseUnreadable || error instanceof DataFolderLockUnavailable) return error.message
  return undefined
}

/** Takes the folder's lock, or throws DataFolderInUse naming the live holder. */
export async function lockDataFolder(folder: string, program: string): Promise<DataFolderLock> {
  let locks: typeof import('fs-native-extensions')
  try {
    locks = await import('fs-native-extensions')
  } catch (error) {
    throw new DataFolderLockUnavailable(
      `the embedded database needs a folder lock, and none is available on ${process.platform}-${process.arch} (${(error as Error).message}): ` +
        'set DATABASE_URL to use PostgreSQL',
    )
  }
  const file = `${folder}.lock`
  fs.mkdirSync(path.dirname(file), { recursive: true })
  // Never deleted: removing it would let a second process lock a new file while the first
  // still holds the old one. Node opens files close-on-exec, so child processes never inherit it.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
  let taken: boolean
  try {
    taken = locks.tryLock(fd)
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
  if (!taken) {
    fs.closeSync(fd)
    throw new DataFolderInUse(folder, readHolder(file))
  }

  const holder: LockHolder = {
    pid: process.pid,
    program,
    port: null,
    started_at: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
    hostname: os.hostname(),
  }
  const write = () => {
    const text = Buffer.from(`${JSON.stringify(holder)}\n`)
    fs.ftruncateSync(fd, 0)
    fs.writeSync(fd, text, 0, text.length, 0)
  }
  write()
  let released = false
  return {
    folder,
    file,
    setPort(port) {
      if (released) return
      holder.port = port
      write()
    },
    release() {
      if (released) return
      released = true
      try {
        fs.ftruncateSync(fd, 0)
        locks.unlock(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder
    return typeof holder.pid === 'number' ? holder : null
  } catch {
    // Being written at this instant, or unreadable while locked (Windows): the holder stays unnamed.
    return null
  }
}

function describeHolder(holder: LockHolder | null): string {
  if (!holder) return 'another process'
  const details = [holder.program]
  if (holder.port !== null) details.push(`port ${holder.port}`)
  details.push(`since ${holder.started_at}`)
  if (holder.hostname !== os.hostname()) details.push(`on ${holder.hostname}`)
  return `pid ${holder.pid} (${details.join(', ')})`
}

/** The first line of what the embedded engine said, in words: its bare abort ("Aborted(). Build with -sASSERTIONS…") says nothing. */
export function engineMessage(cause: unknown): string {
  const text = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0] ?? ''
  if (/^Aborted\(/.test(text)) return 'the database engine aborted while reading it'
  return text.slice(0, 200) || 'unknown error'
}
