"""`hxgraph place FILE --partition`: the execution instances printed, drawn and written as JSON."""

import json

import matplotlib.image

import hxgraph as hx
from hxgraph.cli import main


def _wide(tmp_path):
    graph = (hx.Experiment("wide", seed=0).input("x", 16).lif("h", 1200).li("o", 3)
             .dense("x", "h").dense("h", "o")).graph
    return graph, graph.save(tmp_path / "wide.json")


def test_place_points_a_network_larger_than_one_chip_to_the_partition(tmp_path, capsys):
    _, path = _wide(tmp_path)
    assert main(["place", str(path)]) == 1
    err = capsys.readouterr().err
    assert "A partition over about 3 chips" in err
    assert f"hxgraph place {path} --partition" in err


def test_place_partition_prints_draws_and_writes_the_partition(tmp_path, capsys):
    graph, path = _wide(tmp_path)
    picture, data = tmp_path / "partition.png", tmp_path / "partition.json"
    assert main(["place", str(path), "--partition", "--out", str(picture), "--json", str(data)]) == 0
    out = capsys.readouterr().out
    assert "Partition of 'wide' onto 3 execution instances of HICANN-X" in out
    assert "instance 2: h[1024:1200], o" in out
    image = matplotlib.image.imread(picture)
    assert image.shape[1] > 400 and image[..., :3].std() > 0.05
    back = hx.Partition.from_json(data.read_text(), graph)
    assert [s.name for i in back.instances for s in i.slices] == ["h[0:512]", "h[512:1024]", "h[1024:1200]", "o"]
    assert json.loads(data.read_text())["chip"] == "HICANN-X"


def test_place_partition_with_too_few_chips_exits_1_with_the_count(tmp_path, capsys):
    _, path = _wide(tmp_path)
    assert main(["place", str(path), "--partition", "--max-chips", "2"]) == 1
    err = capsys.readouterr().err
    assert "more than max_chips=2" in err and "[execution instances: needed 3, available 2]" in err
    assert main(["place", str(path), "--partition", "--max-chips", "0"]) == 2  # a usage error
