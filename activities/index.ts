import * as corpus from './corpus';

/** Activities served on `sept-cpu`. */
export const cpuActivities = { listSourceShards: corpus.listSourceShards };
/** Activities served on `sept-gpu`. */
export const gpuActivities = { countLabels: corpus.countLabels };
