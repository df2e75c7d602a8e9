export { createDataParallel, type DataParallel, type DataParallelLogs, type DataParallelOptions } from './data-parallel';
