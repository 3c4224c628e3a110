"""The fleet's pure parts: partitions of position ids and who should hold each."""

from __future__ import annotations

from bulkhead.keeper.fleet.partition import Partition, assign, partition_of, partitions

A, B = "0xA", "0xB"


def test_partition_of__ids_1_to_250_first__251_second():
    assert partition_of(A, 1, 250) == Partition(A, 0)
    assert partition_of(A, 250, 250) == Partition(A, 0)
    assert partition_of(A, 251, 250) == Partition(A, 1)


def test_partitions__counts__every_id_covered_once_sorted():
    parts = partitions({A: 501, B: 0}, 250)
    assert parts == [Partition(A, 0), Partition(A, 1), Partition(A, 2)]
    assert Partition.from_key(parts[2].key()) == parts[2]


def test_assign__no_holders__even_and_the_first_workers_take_the_extra():
    parts = partitions({A: 1000, B: 250}, 250)  # 5 partitions
    target = assign(parts, ["w2", "w1"], {})
    counts = {w: sum(1 for v in target.values() if v == w) for w in ("w1", "w2")}
    assert counts == {"w1": 3, "w2": 2}
    assert set(target) == set(parts)


def test_assign__no_workers__nothing_assigned():
    assert assign(partitions({A: 10}), [], {}) == {}


def test_assign__worker_joins__only_what_must_move_moves():
    parts = partitions({A: 2500}, 250)  # 10 partitions
    two = assign(parts, ["w1", "w2"], {})
    three = assign(parts, ["w1", "w2", "w3"], two)
    moved = [p for p in parts if two[p] != three[p]]
    assert len(moved) == 3 and all(three[p] == "w3" for p in moved)
    assert sorted(sum(1 for v in three.values() if v == w) for w in ("w1", "w2", "w3")) == [
        3,
        3,
        4,
    ]


def test_assign__worker_leaves__its_partitions_shared_the_rest_stay():
    parts = partitions({A: 2500}, 250)
    three = assign(parts, ["w1", "w2", "w3"], {})
    two = assign(parts, ["w1", "w3"], three)
    for p in parts:
        if three[p] != "w2":
            assert two[p] == three[p]
    assert set(two.values()) == {"w1", "w3"}


def test_assign__same_inputs_any_order__same_target():
    parts = partitions({A: 1000, B: 700}, 250)
    holders = {parts[0]: "w3", parts[4]: "w1", parts[5]: "gone"}
    first = assign(parts, ["w1", "w2", "w3"], holders)
    second = assign(list(reversed(parts)), ["w3", "w1", "w2"], dict(reversed(holders.items())))
    assert first == second
    assert first[parts[0]] == "w3" and first[parts[4]] == "w1"
