import { join } from 'node:path';
import type { Command } from 'commander';
import { projectRoot } from '../../lib/paths';

/**
 * Builds the exact search's BLAS kernel (infra/search-blas.cjs) into the machine's cache, as setup
 * does in a checkout: an installed package ships its sources, not a binary for every machine.
 */
export function registerBuildSearchKernel(program: Command): void {
  program
    .command('build-search-kernel')
    .description("build the exact search's BLAS kernel (OpenBLAS sgemm in a Node-API addon, from PyPI's scipy-openblas32 wheel; needs python3 -m pip and a C compiler) and print its path; sept-cpu workers on this machine then use it")
    .action(async () => {
      const { ensureSearchBlas } = require(join(projectRoot, 'infra', 'search-blas.cjs')) as { ensureSearchBlas(opts: { log(message: string): void }): Promise<string | null> };
      const file = await ensureSearchBlas({ log: (message) => console.error(message) });
      if (!file) throw new Error('the BLAS search kernel was not built (the reason is above); sept-cpu workers use onnxruntime\'s kernel');
      console.log(file);
    });
}
