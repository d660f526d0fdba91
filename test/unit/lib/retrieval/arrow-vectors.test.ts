import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringsCopied, vectorTable } from '../../../../lib/retrieval/arrow-vectors';

describe('arrow vectors', () => {
  it('reads a row range of an id column from its own copy, multi-byte ids included', () => {
    const ids = ['pool/a', 'pool/ü-1', 'pool/日本', 'pool/', 'pool/z'];
    const column = vectorTable({ ids, encoderId: 'e', vectors: new Float32Array(ids.length * 2), dim: 2 }).batches[0].getChild('id')!;
    const idOf = stringsCopied(column, 1, 4);
    assert.deepEqual([0, 1, 2].map(idOf), ids.slice(1, 4));
    assert.equal(stringsCopied(column, 0, 5)(4), 'pool/z');
  });
});
