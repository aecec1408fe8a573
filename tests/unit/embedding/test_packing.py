import pytest
import torch

from askwiki.embedding import packing
from askwiki.embedding.packing import PackedLinear, pack_linear_layers


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(16, 64),
        torch.nn.GELU(),
        torch.nn.Sequential(torch.nn.Linear(64, 8, bias=False)),
    )


def test_bfloat16_linear_layers_are_packed_with_the_same_output() -> None:
    model = small_model().to(torch.bfloat16)
    x = torch.randn(5, 16).to(torch.bfloat16)
    with torch.inference_mode():
        before = model(x).float()
    assert pack_linear_layers(model) == 2
    assert isinstance(model[0], PackedLinear)
    assert isinstance(model[2][0], PackedLinear)  # nested modules too
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    with torch.inference_mode():
        after = model(x).float()
    torch.testing.assert_close(after, before, rtol=1e-2, atol=1e-2)
    # Any number of rows, and the batch x tokens x features shape of a transformer.
    with torch.inference_mode():
        assert model(torch.randn(2, 7, 16).to(torch.bfloat16)).shape == (2, 7, 8)


def test_float32_layers_are_left_alone() -> None:
    model = small_model()
    assert pack_linear_layers(model) == 0
    assert isinstance(model[0], torch.nn.Linear)


def test_a_layer_the_ops_fail_on_stays_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(PackedLinear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("no oneDNN kernel for this CPU")

    monkeypatch.setattr(packing, "PackedLinear", Broken)
    model = small_model().to(torch.bfloat16)
    assert pack_linear_layers(model) == 0
    assert isinstance(model[0], torch.nn.Linear)


def test_a_layer_that_disagrees_stays_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrong(PackedLinear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) + 1

    monkeypatch.setattr(packing, "PackedLinear", Wrong)
    model = small_model().to(torch.bfloat16)
    assert pack_linear_layers(model) == 0
