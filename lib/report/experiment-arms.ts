/**
 * Every arm of the experiment, in the order it trains and reports them (lib/report/experiment.ts
 * ARMS describes each). No imports: the experiment workflow's bundle takes it as it is.
 */
export const EXPERIMENT_ARMS = ['none', 'random', 'sept', 'diverse', 'cluster', 'dedup', 'pool'] as const;
export type ExperimentArm = (typeof EXPERIMENT_ARMS)[number];
