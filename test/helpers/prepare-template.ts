import { prepareTemplate } from './database.ts'

// tap runs this once before the test files: they then copy the migrated template.
await prepareTemplate()
