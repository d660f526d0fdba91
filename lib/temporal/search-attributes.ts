import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes that septflow sets on its workflows: filter runs in the Temporal UI by
 * run name, stage, subset size or accuracy. Every server septflow starts registers them; on another
 * cluster register them once (README, operations).
 */
export const SEPT_SEARCH_ATTRIBUTES = {
  runName: defineSearchAttributeKey('SeptRunName', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('SeptStage', SearchAttributeType.KEYWORD),
  subsetSize: defineSearchAttributeKey('SeptSubsetSize', SearchAttributeType.INT),
  top1: defineSearchAttributeKey('SeptTop1', SearchAttributeType.DOUBLE),
} as const;
