import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REFERENCE_RATES } from '../../../../lib/retrieval/cost';
import { machineRates } from '../../../../lib/retrieval/machine-rates';

describe('rates measured on this machine', () => {
  it('measures the exact search once per process and keeps the reference for the rest', async () => {
    const rates = await machineRates();
    assert.ok(Number.isFinite(rates.matmulFlops) && rates.matmulFlops > 0, `matmulFlops ${rates.matmulFlops}`);
    assert.notEqual(rates, REFERENCE_RATES, 'measured, not the fallback');
    assert.deepEqual({ ...rates, matmulFlops: REFERENCE_RATES.matmulFlops }, REFERENCE_RATES);
    assert.equal(await machineRates(), rates);
  });
});
