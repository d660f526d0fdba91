export { census } from './census';
export { trainModel } from './train-model';
export { embedPool } from './embed-pool';
export { selectSubset } from './select-subset';
