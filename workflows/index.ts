export { census } from './census';
export { trainModel } from './train-model';
export { embedPool } from './embed-pool';
export { selectSubset } from './select-subset';
export { trainEncoder } from './train-encoder';
export { septPipeline } from './sept-pipeline';
export { septExperiment } from './sept-experiment';
