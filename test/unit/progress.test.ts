import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTrainProgress, progressBar } from '../../cli/progress';

describe('progress lines', () => {
  it('draws a clamped bar', () => {
    assert.equal(progressBar(0.5, 10), '[#####-----]  50%');
    assert.equal(progressBar(1.7, 4), '[####] 100%');
  });

  it('shows a trainer job with its speed and an ETA from images/s and the batch size', () => {
    const line = formatTrainProgress(
      { stage: 'pretrain', completed: [], checkpoints: {}, metrics: {}, jobs: {} },
      { stage: 'pretrain', step: 150, totalSteps: 600, loss: 3.41234, imagesPerS: 400, batchSize: 256, checkpoint: '/c/checkpoint-00000150.pt', checkpointStep: 150 },
    );
    // 450 steps x 256 images / 400 images/s = 288 s
    assert.match(line, /^\[#+-+\]  25%  pretrain step 150\/600  loss 3\.412  400 images\/s  ETA 4m48s  checkpoint step 150$/);
  });

  it('lists finished stages and says when the trainer has not reported yet', () => {
    const line = formatTrainProgress({ stage: 'finetune', completed: ['pretrain', 'evaluate-pretrained'], checkpoints: {}, metrics: {}, jobs: {} }, undefined);
    assert.equal(line, 'done: pretrain, evaluate-pretrained\nfinetune: starting');
  });
});
