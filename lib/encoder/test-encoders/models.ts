// Test encoders with RANDOM weights: they exercise the embedding plumbing and measure its speed;
// their vectors carry no meaning. Weights come from a seeded generator, so the same model file
// (and hence the same encoder id) is produced every time.
import { encodeModel, type Initializer, type Node } from '../../onnx/graph';

/** mulberry32 then Box-Muller: deterministic standard normals. */
function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const RANDOM_WEIGHTS = 'RANDOM WEIGHTS: a septflow test encoder for plumbing and speed tests; its vectors carry no meaning.';

/** Accumulates nodes and He-initialized weights while a network is described layer by layer. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  private readonly normal: () => number;
  private count = 0;

  constructor(seed: number) {
    this.normal = normals(seed);
  }

  private weight(dims: number[], fanIn: number): string {
    const name = `w${this.initializers.length}`;
    const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < values.length; i++) values[i] = this.normal() * std;
    this.initializers.push({ name, dims, values });
    return name;
  }

  private bias(size: number): string {
    const name = `b${this.initializers.length}`;
    this.initializers.push({ name, dims: [size], values: new Float32Array(size) });
    return name;
  }

  op(op: string, inputs: string[], attributes?: Node['attributes']): string {
    const output = `${op.toLowerCase()}${this.count++}`;
    this.nodes.push({ op, inputs, outputs: [output], attributes });
    return output;
  }

  conv(x: string, inChannels: number, outChannels: number, kernel: number, stride: number): string {
    const w = this.weight([outChannels, inChannels, kernel, kernel], inChannels * kernel * kernel);
    const pad = Math.floor(kernel / 2);
    return this.op('Conv', [x, w, this.bias(outChannels)], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad] });
  }

  dense(x: string, inFeatures: number, outFeatures: number): string {
    return this.op('Gemm', [x, this.weight([inFeatures, outFeatures], inFeatures), this.bias(outFeatures)]);
  }

  /** Gives the value x (the last node's output) the graph's public output name. */
  outputAs(x: string, name: string): void {
    const last = this.nodes[this.nodes.length - 1];
    if (last.outputs[0] !== x) throw new Error(`${x} is not the last node's output`);
    last.outputs[0] = name;
  }

  /** The serialized model: input `input` [batch, channels, size, size], output `embedding` [batch, dims]. */
  model(name: string, spec: Pick<TestEncoder, 'channels' | 'size' | 'dims'>): Uint8Array {
    return encodeModel({
      name,
      doc: RANDOM_WEIGHTS,
      inputs: [{ name: 'input', type: 'float', dims: ['batch', spec.channels, spec.size, spec.size] }],
      outputs: [{ name: 'embedding', type: 'float', dims: ['batch', spec.dims] }],
      nodes: this.nodes,
      initializers: this.initializers,
    });
  }

  /** ResNet's stem: a 7x7 stride-2 convolution to 64 channels and a 3x3 stride-2 max pool. */
  stem(x: string, channels: number): string {
    const y = this.op('Relu', [this.conv(x, channels, 64, 7, 2)]);
    return this.op('MaxPool', [y], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  }

  /** Global average pooling to a [batch, channels] matrix. */
  pool(x: string): string {
    return this.op('Flatten', [this.op('GlobalAveragePool', [x])], { axis: 1 });
  }
}

export interface TestEncoder {
  /** File name under the test-encoder folder. */
  file: string;
  channels: 1 | 3;
  size: number;
  dims: number;
  build(): Uint8Array;
}

/** A small CNN for the 28x28 grayscale demo images: three convolutions, pooling, a 64-d projection. */
export const DEMO_CNN: TestEncoder = {
  file: 'demo-cnn-random.onnx',
  channels: 1,
  size: 28,
  dims: 64,
  build() {
    const g = new GraphBuilder(28);
    let x = g.op('Relu', [g.conv('input', this.channels, 16, 3, 1)]);
    x = g.op('Relu', [g.conv(x, 16, 32, 3, 2)]);
    x = g.op('Relu', [g.conv(x, 32, 64, 3, 2)]);
    g.outputAs(g.dense(g.pool(x), 64, this.dims), 'embedding');
    return g.model('demo-cnn', this);
  },
};

/** ResNet-18's shape at 224x224 RGB (11M parameters, 1.8 GFLOPs; no batch norm), 512-d pooled features. */
export const RESNET18: TestEncoder = {
  file: 'resnet18-random.onnx',
  channels: 3,
  size: 224,
  dims: 512,
  build() {
    const g = new GraphBuilder(18);
    let x = g.stem('input', this.channels);
    let channels = 64;
    for (const [width, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
      for (let block = 0; block < 2; block++) {
        const s = block === 0 ? stride : 1;
        const branch = g.conv(g.op('Relu', [g.conv(x, channels, width, 3, s)]), width, width, 3, 1);
        const shortcut = s === 1 && channels === width ? x : g.conv(x, channels, width, 1, s);
        x = g.op('Relu', [g.op('Add', [branch, shortcut])]);
        channels = width;
      }
    }
    g.outputAs(g.pool(x), 'embedding');
    return g.model('resnet18', this);
  },
};

/**
 * ResNet-50's shape at 224x224 RGB (bottleneck blocks 3-4-6-3; 23.5M parameters, 4.1 GFLOPs; no
 * batch norm), 2048-d pooled features: the encoder size the paper's retrieval embeds with.
 */
export const RESNET50: TestEncoder = {
  file: 'resnet50-random.onnx',
  channels: 3,
  size: 224,
  dims: 2048,
  build() {
    const g = new GraphBuilder(50);
    let x = g.stem('input', this.channels);
    let channels = 64;
    for (const [width, blocks, stride] of [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]]) {
      for (let block = 0; block < blocks; block++) {
        const s = block === 0 ? stride : 1;
        const reduced = g.op('Relu', [g.conv(x, channels, width, 1, 1)]);
        const branch = g.conv(g.op('Relu', [g.conv(reduced, width, width, 3, s)]), width, 4 * width, 1, 1);
        const shortcut = block === 0 ? g.conv(x, channels, 4 * width, 1, s) : x;
        x = g.op('Relu', [g.op('Add', [branch, shortcut])]);
        channels = 4 * width;
      }
    }
    g.outputAs(g.pool(x), 'embedding');
    return g.model('resnet50', this);
  },
};
