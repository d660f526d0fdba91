/**
 * A gang: one pre-training on `trainer.nodes` sept-gpu workers (docs/stages/train.md, Many nodes).
 * The gang workflow (workflows/train-gang.ts) claims the nodes, agrees the rendezvous and places
 * each node; this module is what both sides share: what a claim answers, where a node stands in
 * its round, and the torchrun arguments that follow. Pure: workflows import it.
 */

/** What a sept-gpu worker answers to a claim: its own task queue and where its trainer can be reached. */
export interface GangNode {
  /** The worker's own task queue: an activity scheduled there runs on that worker and no other. */
  queue: string;
  /** The address other nodes reach this one at (SEPT_NODE_ADDRESS). */
  address: string;
  /** A port that was free on `address` when claimed: the rendezvous's, if this node is node 0. */
  port: number;
}

/** A node's place in one round of its gang, passed with its trainer task. */
export interface GangPlace {
  /** node 0's address and port: the TCPStore every node's torchrun meets at. */
  endpoint: string;
  nodes: number;
  /** This node's rank: node 0 holds global rank 0, which writes events and checkpoints. */
  rank: number;
  /** The round's rendezvous id: the gang's workflow id and round; a node of an earlier round never joins a later one. */
  id: string;
}

/** `held` with `claim` added, unless that worker already holds a place: one worker answers many claims. */
export function withClaim(held: readonly GangNode[], claim: GangNode): GangNode[] {
  return held.some((node) => node.queue === claim.queue) ? [...held] : [...held, claim];
}

/** Each node's place in a round of the nodes `held`, node 0 the rendezvous host. */
export function gangPlaces(held: readonly GangNode[], gangId: string, round: number): GangPlace[] {
  const [host] = held;
  if (!host) throw new Error('a gang round needs at least one node');
  const endpoint = `${host.address.includes(':') ? `[${host.address}]` : host.address}:${host.port}`;
  // torchrun names a folder after the id: a workflow id's slashes become underscores.
  const id = `${gangId}-round-${round}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  return held.map((_, rank) => ({ endpoint, nodes: held.length, rank, id }));
}

/**
 * torchrun's arguments for a node of a gang, in place of `--standalone`. The rendezvous is torchrun's
 * static one: a c10d TCPStore hosted by node 0 at the endpoint the workflow agreed, node ranks fixed
 * by the workflow, so node 0's first process is global rank 0. `--local-addr` is the address the
 * node was claimed at: node 0's ranks are reached there. The store waits `timeoutSeconds` for the others.
 */
export function rendezvousArgs(place: GangPlace, localAddress: string, timeoutSeconds: number): string[] {
  return [
    '--rdzv-backend=static',
    `--rdzv-endpoint=${place.endpoint}`,
    `--rdzv-id=${place.id}`,
    `--rdzv-conf=timeout=${Math.max(1, Math.round(timeoutSeconds))}`,
    `--nnodes=${place.nodes}`,
    `--node-rank=${place.rank}`,
    `--local-addr=${localAddress}`,
  ];
}

/** Why a gang has no nodes to train on: the run's error, naming the field. */
export function nodesUnanswered(asked: number, answered: number, timeout: string): string {
  return `trainer.nodes: ${asked} sept-gpu workers asked for, ${answered} answered within trainer.rendezvousTimeout (${timeout}); start more sept-gpu workers or lower trainer.nodes`;
}
