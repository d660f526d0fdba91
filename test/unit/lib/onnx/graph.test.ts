import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DEMO_CNN, RESNET18 } from '../../../../lib/encoder/test-encoders';
import { encodeModel, type ModelSpec } from '../../../../lib/onnx/graph';
import { matmulGraph, searchGraph } from '../../../../lib/retrieval/search-graph';

const floats = (values: number[], dims: number[]) => new ort.Tensor('float32', Float32Array.from(values), dims);

async function run(spec: ModelSpec, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(encodeModel(spec));
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, Array.from(t.data as Float32Array | BigInt64Array, Number)]));
  } finally {
    await session.release();
  }
}

describe('ONNX graph builder', () => {
  const cases: { name: string; spec: ModelSpec; feeds: Record<string, ort.Tensor>; expect: Record<string, number[]> }[] = [
    {
      name: 'a float initializer and an int attribute (Gemm, transB)',
      spec: {
        name: 'gemm',
        nodes: [{ op: 'Gemm', inputs: ['x', 'w'], outputs: ['y'], attributes: { transB: 1 } }],
        initializers: [{ name: 'w', dims: [2, 3], values: Float32Array.from([1, 0, 0, 0, 1, 2]) }],
        inputs: [{ name: 'x', type: 'float', dims: ['batch', 3] }],
        outputs: [{ name: 'y', type: 'float', dims: ['batch', 2] }],
      },
      feeds: { x: floats([1, 2, 3, 4, 5, 6], [2, 3]) },
      expect: { y: [1, 8, 4, 17] },
    },
    {
      name: 'ints attributes (MaxPool kernel, strides, pads)',
      spec: {
        name: 'pool',
        nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] } }],
        inputs: [{ name: 'x', type: 'float', dims: ['batch', 1, 4, 4] }],
        outputs: [{ name: 'y', type: 'float', dims: ['batch', 1, 2, 2] }],
      },
      feeds: { x: floats(Array.from({ length: 16 }, (_, i) => i), [1, 1, 4, 4]) },
      expect: { y: [5, 7, 13, 15] },
    },
    {
      name: 'a float attribute (LeakyRelu alpha) and a doc string',
      spec: {
        name: 'leaky',
        doc: 'documented',
        nodes: [{ op: 'LeakyRelu', inputs: ['x'], outputs: ['y'], attributes: { alpha: { float: 0.5 } } }],
        inputs: [{ name: 'x', type: 'float', dims: ['batch'] }],
        outputs: [{ name: 'y', type: 'float', dims: ['batch'] }],
      },
      feeds: { x: floats([-4, 2], [2]) },
      expect: { y: [-2, 2] },
    },
    {
      name: 'an int64 input and two outputs (TopK)',
      spec: {
        name: 'topk',
        nodes: [{ op: 'TopK', inputs: ['x', 'k'], outputs: ['values', 'indices'], attributes: { axis: 1 } }],
        inputs: [
          { name: 'x', type: 'float', dims: ['rows', 'cols'] },
          { name: 'k', type: 'int64', dims: [1] },
        ],
        outputs: [
          { name: 'values', type: 'float', dims: ['rows', 'k'] },
          { name: 'indices', type: 'int64', dims: ['rows', 'k'] },
        ],
      },
      feeds: { x: floats([3, 9, 1, 7], [1, 4]), k: new ort.Tensor('int64', BigInt64Array.from([2n]), [1]) },
      expect: { values: [9, 7], indices: [1, 3] },
    },
  ];
  for (const c of cases) {
    it(`runs in onnxruntime: ${c.name}`, async () => {
      assert.deepEqual(await run(c.spec, c.feeds), c.expect);
    });
  }

  it('writes the models it always wrote, byte for byte (a test encoder id is its file hash)', () => {
    const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    assert.deepEqual(
      { demo: sha(DEMO_CNN.build()), resnet: sha(RESNET18.build()), search: sha(searchGraph()), matmul: sha(matmulGraph()) },
      {
        demo: 'ed66893d877ac095ef86c3a4844800d32af0810942f016fa0b939627530e2c47',
        resnet: 'f0fa32b3e066ae0daa9c87d116ffd8e81564fc351703ffc7491f4536d6d3d546',
        search: 'fdbf5822d28f51325e5e66b7c84346c18a5a3000ff4280e78805f62853bbcaf9',
        matmul: '8be91fccd26c77780d08dc00e21f74fc9f41b102528c4521af888fa9e5f37b9e',
      },
    );
  });
});
