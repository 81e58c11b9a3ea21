/** The imports context's use cases: roster uploads run as jobs, chunk by chunk. */
export { countImportRows, IMPORT_CSV_LIMITS, ImportJobInvalidError, RosterImports, type ImportRunResult, type RosterImportsDeps } from './roster-imports';
export { ImportFiles } from './import-files';
