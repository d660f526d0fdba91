import type * as workflows from '../../workflows';

/** Workflow types a user may start by name (CLI, client, Temporal UI). */
export const WORKFLOW_TYPES = ['septPipeline', 'septExperiment', 'census', 'trainEncoder', 'embedPool', 'dedupPool', 'selectSubset', 'trainModel'] as const satisfies readonly (keyof typeof workflows)[];
export type WorkflowType = (typeof WORKFLOW_TYPES)[number];

/** The workflow function of a type, for typed starts and handles (`client.workflow.start<SeptWorkflow<'embedPool'>>`). */
export type SeptWorkflow<T extends WorkflowType> = (typeof workflows)[T];

export function isWorkflowType(name: string): name is WorkflowType {
  return (WORKFLOW_TYPES as readonly string[]).includes(name);
}
