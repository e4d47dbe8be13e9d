import { dropRunDatabases } from './database.ts'

// tap runs this once after the test files: the run's PostgreSQL test databases go in one sweep.
await dropRunDatabases()
