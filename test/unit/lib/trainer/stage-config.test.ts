import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunConfig } from '../../../../lib/config/validate';
import { RunLayout } from '../../../../lib/run-layout';
import { trainerStageConfig } from '../../../../lib/trainer/stage-config';
import { tempDir } from '../../../support/tmp';

const job = new RunLayout(tempDir(), 'r').trainerJob('main', 'pretrain');
const modelOf = (pretrain: object, stage: 'pretrain' | 'finetune' = 'pretrain') =>
  // At 224 pixels, which the paper's ViTs' patches tile (the run refuses the demo's 28 for them).
  trainerStageConfig(parseRunConfig({ demo: true, encoder: { size: 224, crop: 224 }, pretrain }), stage, job, { trainShards: ['a.tar'], numClasses: 10 }).model;

describe('trainer stage configuration', () => {
  it("hands the run's backbone to every stage, or the method's demo model where the run names none", () => {
    assert.equal(modelOf({}), 'cnn_small');
    assert.equal(modelOf({ method: 'mae' }), 'vit_tiny');
    assert.equal(modelOf({ method: 'mae', backbone: 'vit_base_patch16_224' }), 'vit_base_patch16_224');
    assert.equal(modelOf({ backbone: 'resnet50' }, 'finetune'), 'resnet50');
  });
});
