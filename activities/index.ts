import * as sources from './sources';
import * as dedup from './dedup';
import * as embed from './embed';
import * as pipeline from './pipeline';
import * as retrieve from './retrieve';
import * as runConfig from './run-config';
import * as train from './train';

/** Activities served on `sept-cpu`: listing, embedding, retrieval, selection, the pipeline's bookkeeping and reports. */
export const cpuActivities = {
  listSourceShards: sources.listSourceShards,
  planCensusShards: sources.planCensusShards,
  foldCensus: sources.foldCensus,
  prepareLabeledTarget: train.prepareLabeledTarget,
  ...embed,
  ...retrieve,
  ...dedup,
  ...pipeline,
  ...runConfig,
};
/** Activities served on `sept-gpu`: the trainer hand-off. */
export const gpuActivities = { countLabels: sources.countLabels, countLabelPage: sources.countLabelPage, runTrainer: train.runTrainer, claimNode: train.claimNode };
