"""examples/yinyang_chip.py, shortened: a hardware-aware mock-trained network transfers, training in the loop learns."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "yinyang_chip.py"


def test_short_chip_run():
    spec = importlib.util.spec_from_file_location("yinyang_chip_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = []
    result = module.run(mock_epochs=2, loop_epochs=1, train_size=2000, test_size=300, progress=False, log=lines.append)
    assert result["mock_on_mock"] > 0.75
    assert result["mock_on_chip"] > 0.7  # consistent units: the chip does what the mock does, up to its imperfections
    assert result["loop_on_chip"] > 0.45  # one short epoch in the loop: clearly above chance (1/3)
    assert any("on the emulated chip" in line for line in lines)
    graph = result["loop"]["graph"]
    assert graph.population("x").size == 25  # inputs repeated 5x
