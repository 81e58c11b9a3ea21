/** The imports read model: roster imports' progress and their report of rejected rows. */
export { IMPORTS_MIGRATIONS } from './schema';
export { IMPORTS_PROJECTION, importsProjection } from './imports-projection';
export { IMPORT_REPORT_PAGE_MAX, importProgress, importRejections, type ImportProgress, type ImportRejectionRow } from './queries';
