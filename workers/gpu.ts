// Entry point of a `sept-gpu` worker: the trainer hand-off.
import { log } from '../lib/log';
import { runWorker } from './worker';

runWorker('gpu').catch((err) => {
  log.fatal({ err }, 'sept-gpu worker failed');
  process.exit(1);
});
