import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Connection } from '@lancedb/lancedb';
import { parseRunConfig } from '../../../lib/config/validate';
import type { RunConfig } from '../../../lib/config/schema';
import { removedCandidates } from '../../../lib/dedup/exclusions';
import { setDuplicates } from '../../../lib/dedup/subset-duplicates';
import { dropEdges, linkDuplicates, reportDuplicates } from '../../../lib/dedup/groups';
import { type DedupPlan, planDedup } from '../../../lib/dedup/plan';
import { joinChunk } from '../../../lib/dedup/self-join';
import { completedGroups, dedupComplete, dedupTables, readGroups } from '../../../lib/dedup/tables';
import { writeShardList } from '../../../lib/embed/shard-plan';
import { annParams, ensureAnnIndex } from '../../../lib/retrieval/ann';
import { normalizeRows } from '../../../lib/retrieval/normalize';
import { seededRandom } from '../../../lib/retrieval/synthetic';
import { dedupFiles } from '../../../lib/run-layout';
import { selectByPolicy } from '../../../lib/selection/policy';
import { writeSubsetShards } from '../../../lib/selection/subset-shards';
import { listAllShards } from '../../../lib/sources/list-shards';
import { mergedCandidates, writeMergedChunk } from '../../../lib/selection/tables';
import { contentFingerprint, type ShardRef } from '../../../lib/sources/shard-ref';
import { locationExists } from '../../../lib/storage/location';
import { demoRows, fakeEncoder, labelVectors } from '../../support/demo-pool';
import { poolRows, writeVectors } from '../../support/pool-table';
import { tempDir } from '../../support/tmp';

const DIM = 64;
const POOL = 3000;

// Random directions in 64 dimensions: two of them have a cosine of about 0 ± 0.125, so no pair of
// 3,000 comes near the threshold by chance. Planted copies (the original plus 5% noise, cosine
// about 0.999) make the groups; a look-alike (50% noise, cosine about 0.89) must not join one.
const COPIES: [copy: number, original: number, noise: number][] = [
  [10, 2500, 0.05], // across shards and partitions
  [1500, 10, 0.05], // a chain: the copy of a copy
  [43, 42, 0.05], // within a shard
  [1000, 999, 0.05], // across a shard boundary
  [2001, 2000, 0.5], // a look-alike, below the threshold
];
const id = (row: number) => poolRows('pool', POOL).ids[row];
const EXPECTED = [
  { representative: id(10), members: [id(10), id(1500), id(2500)] },
  { representative: id(42), members: [id(42), id(43)] },
  { representative: id(999), members: [id(999), id(1000)] },
];

function plantedPool(): Float32Array {
  const random = seededRandom(17);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const v = normalizeRows(Float32Array.from({ length: POOL * DIM }, normal), DIM);
  for (const [copy, original, noise] of COPIES) {
    for (let j = 0; j < DIM; j++) v[copy * DIM + j] = v[original * DIM + j] + (noise / Math.sqrt(DIM)) * normal();
  }
  return normalizeRows(v, DIM);
}

describe('pool deduplication over a LanceDB vectors table', () => {
  const dir = tempDir();
  const rows = poolRows('pool', POOL);
  const vectors = plantedPool();
  const shards: ShardRef[] = [...new Set(rows.shards)].map((s) => ({ id: s, source: 'pool', path: `/nowhere/${s}.tar`, version: '1' }));
  const settings: RunConfig['dedup'] = { enabled: true, threshold: 0.95, method: 'exact', neighbours: 4, chunkRows: 1000, maxRemovedShare: 0.5, contactSheet: { groups: 0, copies: 1 } };
  let db: Connection;

  before(async () => {
    ({ db } = await writeVectors(dir, 'enc', { ...rows, vectors, dim: DIM }));
    // A target image copied from pool row 700, in a shard of its own: only pool rows may be grouped.
    await writeVectors(dir, 'enc', { ids: ['target/0000000'], shards: ['target/shard-0000'], vectors: vectors.slice(700 * DIM, 701 * DIM), dim: DIM });
  });

  async function planOf(path: 'exact' | 'ann'): Promise<DedupPlan> {
    const s = { threshold: settings.threshold, method: path, neighbours: settings.neighbours };
    const workDir = tempDir();
    return {
      run: 'dedup-test',
      store: dir,
      encoderId: 'enc',
      dim: DIM,
      settings: s,
      groupsTable: dedupTables('enc', s).groups,
      workDir,
      poolShards: await writeShardList(shards, dedupFiles(workDir).poolShardPlan),
      poolFingerprint: contentFingerprint(shards),
      poolRows: POOL,
      tableHasOtherRows: true,
      chunks: 3,
      partitions: path === 'exact' ? 2 : 1,
      blockRows: 512,
      path,
      ann: annParams(POOL + 1, DIM),
      complete: false,
    };
  }

  async function deduplicate(plan: DedupPlan): Promise<number> {
    let edges = 0;
    for (let c = 0; c < plan.chunks; c++) for (let p = 0; p < plan.partitions; p++) edges += await joinChunk(plan, c, p);
    return edges;
  }

  it('exact: finds exactly the planted groups, keeps the smallest id of each, and records the pool it covers', async () => {
    const plan = await planOf('exact');
    const edges = await deduplicate(plan);
    // A retried self-join overwrites its edges: the same count, the same groups.
    assert.equal(await deduplicate(plan), edges);
    assert.deepEqual(await linkDuplicates(plan), { groups: 3, removed: 4 });
    assert.deepEqual(await readGroups(await db.openTable(plan.groupsTable)), EXPECTED);
    const kept = await (await db.openTable(plan.groupsTable)).query().where('kept = true').select(['pool_id', 'group_size']).toArray();
    assert.deepEqual(kept.map((r) => [String(r.pool_id), Number(r.group_size)]).sort(), [[id(10), 3], [id(42), 2], [id(999), 2]]);

    const tables = dedupTables('enc', plan.settings);
    assert.equal(await dedupComplete(db, tables, plan.poolFingerprint), true);
    assert.equal(await completedGroups(db, 'enc', plan.settings, plan.poolFingerprint), plan.groupsTable);
    // A pool with a shard added (another fingerprint) is not covered: a selection refuses it.
    await assert.rejects(completedGroups(db, 'enc', plan.settings, contentFingerprint([...shards, { id: 'pool/shard-0003', version: '1' }])), /dedup\.enabled, but the pool is not deduplicated/);

    // Measured against known copies: two found, the look-alike (counted known here) missed; of the 4 removed, the 2 with a known relative are right.
    const known = [[43, 42], [1000, 999], [2001, 2000]].map(([copy, original]) => ({ copy: id(copy), original: id(original) }));
    const stats = await reportDuplicates(plan, settings.contactSheet, known);
    assert.deepEqual({ groups: stats.groups, removed: stats.removed, largest: stats.largestGroup }, { groups: 3, removed: 4, largest: 3 });
    assert.deepEqual(stats.plantedCopies, { recall: 2 / 3, precision: 0.5, knownCopies: 3, copiesFound: 2, removed: 4, removedCorrectly: 2 });
    // Removing more than dedup.maxRemovedShare of the pool (4 of 3,000 here) fails, naming the setting.
    await assert.rejects(reportDuplicates(plan, settings.contactSheet, [], 0.001), /dedup would remove 4 of the pool's 3,000 images \(0\.1%, largest group 3\), more than dedup\.maxRemovedShare \(0\.001\)/);
    assert.ok(await locationExists(dedupFiles(plan.workDir).stats));
    await dropEdges(plan);
    assert.equal((await db.tableNames()).filter((n) => n.startsWith(`${plan.groupsTable}_edges`)).length, 0);
  });

  it('ann: the index path over the same pool finds the same groups', async () => {
    const plan = await planOf('ann');
    await ensureAnnIndex(await db.openTable('vectors_enc'), plan.ann);
    await deduplicate(plan);
    await linkDuplicates(plan);
    assert.deepEqual(await readGroups(await db.openTable(plan.groupsTable)), EXPECTED);
  });

  it('plans over a configured pool, reuses complete groups, and draws the largest groups from the images', async () => {
    const store = tempDir();
    const { model, encoderId } = await fakeEncoder(store);
    const spec = { kind: 'demo' as const, dataset: 'mnist' as const, split: 'test' as const };
    const demo = await demoRows(spec);
    const v = labelVectors(demo.labels, DIM, 5);
    // Rows 3 and 4 become copies of row 2 (cosine 1): one group of three, the smallest id kept.
    for (const copy of [3, 4]) v.copyWithin(copy * DIM, 2 * DIM, 3 * DIM);
    await writeVectors(store, encoderId, { ids: demo.ids, shards: demo.shards, vectors: v, dim: DIM });
    const config = parseRunConfig({ demo: true, name: 'dedup-plan', encoder: { model }, store: { uri: store }, outputDir: join(store, 'runs'), pool: { sources: [spec] }, dedup: { enabled: true, method: 'exact', chunkRows: 500 } });
    const plan = await planDedup(config);
    assert.deepEqual(
      { poolRows: plan.poolRows, chunks: plan.chunks, partitions: plan.partitions, path: plan.path, complete: plan.complete, other: plan.tableHasOtherRows },
      { poolRows: demo.ids.length, chunks: Math.min(plan.poolShards.total, Math.ceil(demo.ids.length / 500)), partitions: 1, path: 'exact', complete: false, other: false },
    );
    for (let c = 0; c < plan.chunks; c++) await joinChunk(plan, c, 0);
    await linkDuplicates(plan);
    const [group] = await readGroups(await (await connect(store)).openTable(plan.groupsTable));
    assert.deepEqual(group?.members, [2, 3, 4].map((r) => demo.ids[r]).sort());
    const again = await planDedup(config);
    assert.equal(again.complete, true, 'the same encoder, settings and pool: the groups are reused');
    const stats = await reportDuplicates(again, { groups: 2, copies: 3 });
    assert.deepEqual({ groups: stats.groups, removed: stats.removed, reused: stats.reused }, { groups: 1, removed: 2, reused: true });
    assert.ok(stats.contactSheet && (await locationExists(stats.contactSheet)), 'the contact sheet is drawn from the pool images');

    // An experiment arm's near-duplicates, counted by these groups: in the pool itself, and in subset
    // shards copied from it, whose samples are named by the subset and carry their pool id.
    assert.deepEqual(await setDuplicates(store, encoderId, plan.settings, [spec], [spec]), { images: demo.ids.length, duplicates: 2 });
    const manifest = join(store, 'subset.jsonl');
    writeFileSync(manifest, [1, 2, 3, 4, 5].map((r) => `${JSON.stringify({ id: demo.ids[r], shard_id: demo.shards[r] })}\n`).join(''));
    const subset = await writeSubsetShards(manifest, await listAllShards([spec]), join(store, 'subset'), 2);
    const subsetSource = { kind: 'webdataset' as const, name: 'subset', shards: subset.shards as string };
    assert.deepEqual(await setDuplicates(store, encoderId, plan.settings, [subsetSource], [spec]), { images: 5, duplicates: 2 });
  });

  it('a selection never takes the images that deduplication removed, and counts them apart from leaked ones', async () => {
    const plan = await planOf('exact');
    const hits = [
      { targetId: 't/0', label: 'a', neighbours: [id(43), id(42), id(5), id(1500)].map((poolId, r) => ({ poolId, distance: 0.1 + r / 100 })) },
      { targetId: 't/1', label: 'b', neighbours: [id(1000), id(6), id(7), id(8)].map((poolId, r) => ({ poolId, distance: 0.1 + r / 100 })) },
      { targetId: 't/2', label: 'b', neighbours: [id(2500), id(9), id(11), id(12)].map((poolId, r) => ({ poolId, distance: 0.1 + r / 100 })) },
    ];
    await writeMergedChunk(db, 'selection_dedup_hits', hits, (t) => (t === 't/2' ? 'test' : 'train'));
    const table = await db.openTable('selection_dedup_hits');
    // id(1000) is leaked already: counted there, not again. id(2500) is kept; test hits are no candidates.
    const leaked = new Set([id(1000)]);
    const removed = await removedCandidates(db, plan.groupsTable, table, leaked);
    assert.deepEqual([...removed].sort(), [id(43), id(1500)]);
    // A policy that draws from the whole pool (cluster) excludes every removed image but the leaked one.
    assert.deepEqual([...(await removedCandidates(db, plan.groupsTable, undefined, leaked))].sort(), [id(43), id(1500), id(2500)]);
    const train = hits.filter((h) => h.targetId !== 't/2').map((h) => ({ id: h.targetId, label: h.label, split: 'train' as const }));
    const selection = await selectByPolicy(mergedCandidates(table, train), { policy: 'budget', budget: 100, k: 4, balanceClasses: false } as RunConfig['retrieval'], {
      leaked: new Set([...leaked, ...removed]),
      targetIds: new Set(),
    });
    const taken = new Set(selection.samples.map((s) => s.poolId));
    for (const gone of [id(43), id(1500), id(1000)]) assert.ok(!taken.has(gone), gone);
    assert.deepEqual([...taken].sort(), [id(5), id(6), id(7), id(8), id(42)]);
  });
});
