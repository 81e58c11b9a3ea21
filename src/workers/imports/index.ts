export { IMPORTS_CONCURRENCY, importsWorker } from './import-worker';
