import { after } from 'node:test';

/**
 * Sets this process's environment variables for the rest of a test file (or describe block):
 * the returned function sets some, and every one it ever set is restored when the file ends.
 */
export function overrideEnv(): (vars: Record<string, string>) => void {
  const saved = new Map<string, string | undefined>();
  after(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  return (vars) => {
    for (const [k, v] of Object.entries(vars)) {
      if (!saved.has(k)) saved.set(k, process.env[k]);
      process.env[k] = v;
    }
  };
}
