// Entry point of a `sept-cpu` worker: workflows plus listing, embedding and retrieval activities.
import { log } from '../lib/log';
import { runWorker } from './worker';

runWorker('cpu').catch((err) => {
  log.fatal({ err }, 'sept-cpu worker failed');
  process.exit(1);
});
