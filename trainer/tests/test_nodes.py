"""Data parallelism over several nodes (a gang): where each rank stands, and its share of the batch."""
import pytest

from septtrainer.config import ConfigError
from septtrainer.distributed import rank_batch_size, rank_share, world_from_env


def env(rank, nodes, per_node):
    """torchrun's variables for global rank `rank` of `nodes` nodes of `per_node` processes."""
    return {"RANK": str(rank), "WORLD_SIZE": str(nodes * per_node), "LOCAL_RANK": str(rank % per_node),
            "LOCAL_WORLD_SIZE": str(per_node), "GROUP_RANK": str(rank // per_node), "GROUP_WORLD_SIZE": str(nodes)}


def test_a_rank_on_the_second_node_knows_its_global_and_local_place():
    world = world_from_env(env(3, nodes=2, per_node=2))
    assert (world.rank, world.size, world.local_rank, world.local_size, world.node, world.nodes) == (3, 4, 1, 2, 1, 2)
    assert not world.leads
    assert world_from_env(env(0, nodes=2, per_node=1)).leads


def test_a_single_node_run_without_group_variables_is_node_0_of_1():
    world = world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (world.node, world.nodes) == (0, 1)


@pytest.mark.parametrize("nodes,per_node", [(2, 1), (2, 2), (4, 2)])
def test_the_global_batch_divides_over_nodes_times_processes_and_the_shares_are_the_batch(nodes, per_node):
    worlds = [world_from_env(env(rank, nodes, per_node)) for rank in range(nodes * per_node)]
    assert {rank_batch_size(32, world) for world in worlds} == {32 // (nodes * per_node)}
    batch = list(range(100, 132))
    assert [i for world in worlds for i in rank_share(batch, world)] == batch


def test_a_batch_that_does_not_divide_over_the_nodes_processes_names_both():
    with pytest.raises(ConfigError, match=r"config.batch_size: 30 does not divide over 4 processes \(2 nodes × 2\); use a multiple of 4"):
        rank_batch_size(30, world_from_env(env(0, nodes=2, per_node=2)))
