// Workflow interceptors (registered by the workers, not a workflow): run and stage on every log line
// of a workflow, and in the `sept-context` header of every activity, child and continue-as-new it starts.
import { type WorkflowInterceptorsFactory, workflowInfo } from '@temporalio/workflow';
import { runConfigFields } from '../lib/config/schema';
import { SEPT_SEARCH_ATTRIBUTES as SA } from '../lib/temporal/search-attributes';
import { type SeptContext, septContext, septContextOf, withSeptContext } from '../lib/temporal/sept-context';
import type { WorkflowType } from '../lib/temporal/workflow-types';

/** The stage of a workflow that no pipeline started (`sept embed`, `sept train`, `sept start`). */
const STAGE_OF_TYPE: Record<WorkflowType, string> = {
  septPipeline: 'pipeline', // until its first stage: checking the run's inputs
  septExperiment: 'experiment',
  census: 'census',
  trainEncoder: 'encoder',
  embedPool: 'embed',
  dedupPool: 'dedup',
  selectSubset: 'select',
  trainModel: 'train',
};

/** The run name of a workflow's config argument, the schema's default where it names none. */
function configRunName(input: unknown): string | undefined {
  const name = runConfigFields.shape.name.safeParse((input as { name?: unknown } | undefined)?.name);
  return name.success ? name.data : undefined;
}

/**
 * Where run and stage come from, the first one known wins:
 * - run: the parent's header (a pipeline's stages and their children), the SeptRunName search
 *   attribute, the name in the workflow's config argument (a standalone run);
 * - stage: the SeptStage search attribute (septPipeline keeps it at its current stage), the parent's
 *   header, the workflow's type (a standalone run).
 * Children inherit the run, and the stage only where it is a pipeline's (septExperiment's children
 * are stages of their own).
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  // Header and arguments are known once the workflow function starts: the SDK's debug line
  // "Workflow started" comes before, with the run only where a search attribute names it.
  let inherited: SeptContext = {};
  let configName: string | undefined;
  let started = false;

  const run = () => inherited.run ?? workflowInfo().typedSearchAttributes.get(SA.runName) ?? configName;
  const pipelineStage = () => workflowInfo().typedSearchAttributes.get(SA.stage) ?? inherited.stage;
  const stage = () => pipelineStage() ?? (started ? STAGE_OF_TYPE[workflowInfo().workflowType as WorkflowType] : undefined);
  /** For this workflow's log lines and its activities. */
  const own = () => septContext(run(), stage());
  /** For its children and its next run: the stage only where it is a pipeline's. */
  const passedOn = () => septContext(run(), pipelineStage());

  return {
    inbound: [
      {
        execute(input, next) {
          inherited = septContextOf(input.headers);
          configName = configRunName(input.args[0]);
          started = true;
          return next(input);
        },
      },
    ],
    outbound: [
      {
        getLogAttributes: (input, next) => next({ ...input, ...own() }),
        scheduleActivity: (input, next) => next({ ...input, headers: withSeptContext(input.headers, own()) }),
        scheduleLocalActivity: (input, next) => next({ ...input, headers: withSeptContext(input.headers, own()) }),
        startChildWorkflowExecution: (input, next) => next({ ...input, headers: withSeptContext(input.headers, passedOn()) }),
        continueAsNew: (input, next) => next({ ...input, headers: withSeptContext(input.headers, passedOn()) }),
      },
    ],
  };
};
