import { defaultPayloadConverter, type Headers } from '@temporalio/common';

/**
 * Which SEPT run and pipeline stage a piece of work belongs to. Workflows send it as the
 * `sept-context` header with every activity, child workflow and continue-as-new
 * (workflows/log-context.ts); workers put it on every log line (workers/log-context.ts).
 */
export interface SeptContext {
  run?: string;
  stage?: string;
}

export const SEPT_CONTEXT_HEADER = 'sept-context';

/** A context with only the fields that are known. */
export function septContext(run: unknown, stage: unknown): SeptContext {
  return { ...(typeof run === 'string' && { run }), ...(typeof stage === 'string' && { stage }) };
}

export function withSeptContext(headers: Headers, context: SeptContext): Headers {
  return { ...headers, [SEPT_CONTEXT_HEADER]: defaultPayloadConverter.toPayload(context) };
}

/** The context a header carries; fields that are missing or not strings are left out. */
export function septContextOf(headers: Headers): SeptContext {
  const payload = headers[SEPT_CONTEXT_HEADER];
  const value = payload ? defaultPayloadConverter.fromPayload<Record<string, unknown>>(payload) : undefined;
  return septContext(value?.run, value?.stage);
}
