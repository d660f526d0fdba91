import * as corpus from './corpus';
import * as embed from './embed';
import * as retrieve from './retrieve';
import * as train from './train';

/** Activities served on `sept-cpu`. */
export const cpuActivities = { listSourceShards: corpus.listSourceShards, prepareLabeledTarget: train.prepareLabeledTarget };
/** Activities served on `sept-gpu`. */
export const gpuActivities = { countLabels: corpus.countLabels, runTrainer: train.runTrainer };
// The embedding stage's activities (activities/embed.ts) are served on `sept-cpu` too.
Object.assign(cpuActivities, embed);
// The selection stage's activities (activities/retrieve.ts) are served on `sept-cpu` too.
Object.assign(cpuActivities, retrieve);
