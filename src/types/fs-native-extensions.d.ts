// fs-native-extensions ships no type declarations; these are the calls this project uses.
declare module 'fs-native-extensions' {
  /** An exclusive (or shared) advisory lock on an open file: true if taken, false if another holds it. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean
  export function unlock(fd: number): void
}
