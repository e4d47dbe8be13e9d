import { prepareTemplate } from './database.js'

// tap runs this once before the test files: they then copy the migrated template.
await prepareTemplate()
