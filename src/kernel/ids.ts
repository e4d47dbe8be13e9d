import { uuidv7 } from 'uuidv7'

/** New record ids are UUIDv7: unique across instances, and time-ordered so indexes stay compact. */
export const newId = (): string => uuidv7()
