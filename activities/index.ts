import * as corpus from './corpus';
import * as embed from './embed';
import * as pipeline from './pipeline';
import * as retrieve from './retrieve';
import * as train from './train';

/** Activities served on `sept-cpu`: listing, embedding, retrieval, selection, the pipeline's bookkeeping and reports. */
export const cpuActivities = {
  listSourceShards: corpus.listSourceShards,
  prepareLabeledTarget: train.prepareLabeledTarget,
  ...embed,
  ...retrieve,
  ...pipeline,
};
/** Activities served on `sept-gpu`: the trainer hand-off. */
export const gpuActivities = { countLabels: corpus.countLabels, runTrainer: train.runTrainer };
