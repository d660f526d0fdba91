import type { ActivityInterceptorsFactory, WorkerInterceptors } from '@temporalio/worker';
import type { cpuActivities, gpuActivities } from '../activities';
import { septContextOf } from '../lib/temporal/sept-context';

type Activities = typeof cpuActivities & typeof gpuActivities;

/** `first..last (n)`: a commit's whole list of shard ids would swamp each of its lines. */
const span = (ids: string[]) => (ids.length === 1 ? ids[0] : `${ids[0]}..${ids.at(-1)} (${ids.length})`);

/** The shards an activity works on, read from its arguments: `shard` for one, `shards` for a list. */
const SHARDS: { [A in keyof Activities]?: (...args: Parameters<Activities[A]>) => Record<string, string> } = {
  embedShard: (shard) => ({ shard: shard.id }),
  embedShards: (shards): Record<string, string> => (shards.length === 1 ? { shard: shards[0].id } : { shards: span(shards.map((s) => s.id)) }),
  commitShards: (_destination, shards) => ({ shards: span(shards.map((s) => (typeof s === 'string' ? s : s.id))) }),
  countLabels: (shards): Record<string, string> => (Array.isArray(shards) ? { shards: span(shards.map((s) => s.id)) } : { plan: shards.path }),
  countLabelPage: (plan, _pages, page) => ({ plan: plan.path, page: String(page) }),
  samplePoolPage: (_config, _name, plan, _pages, page) => ({ plan: plan.path, page: String(page) }),
};

function shardsOf(activityType: string, args: unknown[]): Record<string, string> {
  const read = SHARDS[activityType as keyof Activities] as ((...args: unknown[]) => Record<string, string>) | undefined;
  try {
    return read?.(...args) ?? {};
  } catch {
    return {}; // a malformed argument fails the activity itself, with its own message
  }
}

/**
 * Run and stage (the `sept-context` header its workflow sent) and shard on the log lines of an
 * activity: the SDK's "Activity completed/failed" and whatever the activity logs through
 * `@temporalio/activity`'s `log`. The SDK's debug line "Activity started" is written before any
 * interceptor sees the headers, so it carries the SDK's fields only.
 */
export const activityLogContext: ActivityInterceptorsFactory = (ctx) => {
  let attributes: Record<string, string> = {};
  return {
    inbound: {
      execute(input, next) {
        attributes = { ...septContextOf(input.headers), ...shardsOf(ctx.info.activityType, input.args) };
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next({ ...input, ...attributes }),
    },
  };
};

/**
 * The interceptors of every septflow worker. `workflowModules` go into the workflow bundle
 * (workflow-bundle.ts), which is where a worker takes them from.
 */
export const LOG_CONTEXT_INTERCEPTORS = {
  workflowModules: [require.resolve('../workflows/log-context')],
  activity: [activityLogContext],
} satisfies WorkerInterceptors;
