// Entry point of a `sept-gpu` worker: the trainer hand-off.
import { log } from '../lib/log';
import { runWorker } from './worker';

// Exit once the worker has drained: pooled threads (embedding, onnxruntime) would keep the process up.
runWorker('gpu').then(
  () => process.exit(0),
  (err) => {
    log.fatal({ err }, 'sept-gpu worker failed');
    process.exit(1);
  },
);
