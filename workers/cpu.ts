// Entry point of a `sept-cpu` worker: workflows plus listing, embedding and retrieval activities.
import { log } from '../lib/log';
import { runWorker } from './worker';

// Exit once the worker has drained: pooled threads (embedding, onnxruntime) would keep the process up.
runWorker('cpu').then(
  () => process.exit(0),
  (err) => {
    log.fatal({ err }, 'sept-cpu worker failed');
    process.exit(1);
  },
);
