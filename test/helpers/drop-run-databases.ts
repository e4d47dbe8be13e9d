import { dropRunDatabases } from './database.js'

// tap runs this once after the test files: the run's PostgreSQL test databases go in one sweep.
await dropRunDatabases()
