"""Tests for mist_reg.regularization.hooks: capture by module name, removal, popping, wrapper prefixes,
repeated calls, activation checkpointing, torch.compile, torchvision and timm models, and
the reduction of feature maps to [N, d]."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from mist_reg.regularization.hooks import CaptureHandle, FeatureCapture, reduce_features, resolve_module_name


def small_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def hook_counts(model: nn.Module) -> int:
    """The number of forward hooks and pre-hooks registered on ``model`` and its submodules."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class Wrapper(nn.Module):
    """Names submodules like DistributedDataParallel does (``module.``)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args):
        return self.module(*args)


def test_captures_exactly_the_named_output_and_input():
    model = small_model()
    x = torch.randn(5, 4)
    capture = FeatureCapture({"hidden": "1", "head_input": "2", "logits": "2"}, capture={"head_input": "input"})
    with capture.attach(model):
        out = model(x)
        hidden, head_input, logits = capture.pop("hidden"), capture.pop("head_input"), capture.pop("logits")
    expected = torch.tanh(model[0](x))
    torch.testing.assert_close(hidden, expected, rtol=0, atol=0)
    torch.testing.assert_close(head_input, expected, rtol=0, atol=0)
    torch.testing.assert_close(logits, out, rtol=0, atol=0)
    assert hidden.requires_grad  # the live tensor, not a copy


def test_remove_leaves_the_model_as_it_was():
    model = small_model()
    x = torch.randn(3, 4)
    before = model(x)
    assert hook_counts(model) == 0
    capture = FeatureCapture(["0", "2"])
    handle = capture.attach(model)
    assert isinstance(handle, CaptureHandle) and handle.active and capture.attached
    assert hook_counts(model) == 3  # two feature hooks and the per-forward reset on the root
    model(x)
    handle.remove()
    handle.remove()  # idempotent
    assert hook_counts(model) == 0 and not capture.attached and "0" not in capture
    torch.testing.assert_close(model(x), before)
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._forward_hooks_with_kwargs and not module._forward_hooks_always_called
    with capture.attach(model):  # the context manager removes on exit, even after an error
        assert hook_counts(model) == 3
    assert hook_counts(model) == 0
    with pytest.raises(ZeroDivisionError):
        with capture.attach(model):
            _ = 1 / 0
    assert hook_counts(model) == 0


def test_attaching_twice_is_refused():
    model = small_model()
    capture = FeatureCapture("0")
    with capture.attach(model):
        with pytest.raises(RuntimeError, match="already attached"):
            capture.attach(model)


def test_unknown_name_lists_close_matches():
    model = nn.Sequential()
    model.add_module("encoder", nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    model.add_module("decoder", nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"no module named 'encodr'.*close matches: encoder"):
        FeatureCapture("encodr").attach(model)
    with pytest.raises(ValueError, match="encoder.0"):
        FeatureCapture("encoder.2").attach(model)
    assert hook_counts(model) == 0  # nothing left behind by a failed attach


def test_wrapper_prefixes_resolve():
    model = small_model()
    wrapped = Wrapper(model)
    assert resolve_module_name(wrapped, "1") == "module.1"
    assert resolve_module_name(wrapped, "module.1") == "module.1"
    assert resolve_module_name(model, "module.1") == "1"  # a prefixed name on the bare model
    compiled = torch.compile(model, backend="eager")  # not run: only its names
    assert resolve_module_name(compiled, "1") == "_orig_mod.1"
    assert resolve_module_name(Wrapper(compiled), "1") == "module._orig_mod.1"
    x = torch.randn(2, 4)
    capture = FeatureCapture("1")
    with capture.attach(wrapped) as handle:
        assert handle.paths == {"1": "module.1"}
        wrapped(x)
        torch.testing.assert_close(capture.pop("1"), torch.tanh(model[0](x)))


def test_pop_once_then_clear_error():
    model = small_model()
    capture = FeatureCapture("1")
    with capture.attach(model):
        model(torch.randn(2, 4))
        capture.pop("1")
        with pytest.raises(RuntimeError, match="since they were last used"):
            capture.pop("1")
    with pytest.raises(RuntimeError, match="not attached"):
        capture.pop("1")
    with pytest.raises(KeyError):
        capture.pop("2")


def test_each_forward_of_the_attached_model_starts_afresh():
    model = small_model()
    capture = FeatureCapture("1")
    a, b = torch.randn(2, 4), torch.randn(3, 4)
    with capture.attach(model):
        with torch.no_grad():
            model(a)  # an evaluation pass whose features are never used
        model(b)
        torch.testing.assert_close(capture.pop("1"), torch.tanh(model[0](b)))


class SharedBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Linear(3, 3)

    def forward(self, x):
        return self.block(self.block(x))


@pytest.mark.parametrize("repeat", ["first", "last", "error"])
def test_repeated_calls_in_one_forward(repeat):
    torch.manual_seed(0)
    model = SharedBlock()
    x = torch.randn(2, 3)
    capture = FeatureCapture("block", repeat=repeat)
    with capture.attach(model):
        if repeat == "error":
            with pytest.raises(RuntimeError, match="ran twice"):
                model(x)
            return
        model(x)
        expected = model.block(x) if repeat == "first" else model.block(model.block(x))
        torch.testing.assert_close(capture.pop("block"), expected)


def test_copies_of_the_model_do_not_record():
    model = small_model()
    capture = FeatureCapture("1")
    with capture.attach(model):
        teacher = copy.deepcopy(model)  # copies the hooks too
        teacher(torch.randn(2, 4))
        assert "1" not in capture
        x = torch.randn(2, 4)
        model(x)
        teacher(torch.randn(2, 4))
        torch.testing.assert_close(capture.pop("1"), torch.tanh(model[0](x)))


class CheckpointedNet(nn.Module):
    def __init__(self, use_checkpoint: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.block = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
        self.head = nn.Linear(8, 1)
        self.use_checkpoint = use_checkpoint

    def forward(self, x):
        h = checkpoint(self.block, x, use_reentrant=False) if self.use_checkpoint else self.block(x)
        return self.head(h)


def test_checkpoint_recomputation_records_once():
    x = torch.randn(6, 4)
    model = CheckpointedNet(use_checkpoint=True)
    fired = []
    model.block[1].register_forward_hook(lambda m, a, o: fired.append(torch.is_grad_enabled()))
    capture = FeatureCapture({"inner": "block.1", "block": "block"}, repeat="error")  # a second record would raise
    with capture.attach(model):
        out = model(x)
        inner = capture.pop("inner")
        block = capture.pop("block")
        (out.sum() + inner.square().sum()).backward()  # recomputes block.0 and block.1
        assert len(fired) == 2, "the recomputation did not run: the test would prove nothing"
        assert "inner" not in capture and "block" not in capture
    reference = CheckpointedNet(use_checkpoint=False)
    ref_out = reference(x)
    ref_inner = torch.tanh(reference.block[0](x))
    torch.testing.assert_close(inner, ref_inner)
    torch.testing.assert_close(block, reference.block(x))
    (ref_out.sum() + ref_inner.square().sum()).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_hooks_attached_before_compile_are_seen():
    model = small_model()
    capture = FeatureCapture("1")
    handle = capture.attach(model)
    compiled = torch.compile(model, backend="eager")
    for _ in range(2):  # the second call runs the cached graph
        x = torch.randn(5, 4)
        out = compiled(x)
        hidden = capture.pop("1")
        torch.testing.assert_close(hidden, torch.tanh(model[0](x)))
        torch.testing.assert_close(out, model(x))
        capture.clear()
        assert hidden.requires_grad
    handle.remove()
    assert hook_counts(model) == 0


def test_attaching_to_the_compiled_module_before_its_first_call():
    model = small_model()
    compiled = torch.compile(model, backend="eager")
    capture = FeatureCapture("1")
    with capture.attach(compiled) as handle:
        assert handle.paths == {"1": "_orig_mod.1"}
        x = torch.randn(3, 4)
        compiled(x)
        torch.testing.assert_close(capture.pop("1"), torch.tanh(model[0](x)))
    assert hook_counts(compiled) == 0


def test_torchvision_resnet_layer4():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    capture = FeatureCapture({"out": "layer4", "in": "layer4"}, capture={"in": "input"})
    with capture.attach(model), torch.no_grad():
        model(x)
        out, inp = capture.pop("out"), capture.pop("in")
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        manual = model.layer4(model.layer3(model.layer2(model.layer1(h))))
    assert out.shape == (2, 512, 1, 1)
    torch.testing.assert_close(out, manual)
    torch.testing.assert_close(model.layer4(inp), manual)
    assert reduce_features(out).shape == (2, 512)


def test_timm_vit_block():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8).eval()
    x = torch.randn(2, 3, 32, 32)
    capture = FeatureCapture({"out": "blocks.0", "in": "blocks.0"}, capture={"in": "input"})
    with capture.attach(model), torch.no_grad():
        model(x)
        out, inp = capture.pop("out"), capture.pop("in")
        manual = model.blocks[0](inp)
    assert out.shape == (2, 17, 192)  # 16 patches and the class token
    torch.testing.assert_close(out, manual)
    torch.testing.assert_close(reduce_features(out), out.mean(1))
    torch.testing.assert_close(reduce_features(out, "cls"), out[:, 0])


def test_reduce_rules():
    maps = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(reduce_features(maps), maps.mean((2, 3)))
    torch.testing.assert_close(reduce_features(maps, "max"), maps.amax((2, 3)))
    torch.testing.assert_close(reduce_features(maps, "flatten"), maps.reshape(2, 60))
    torch.testing.assert_close(reduce_features(maps, "b c h w -> b (c h w)"), maps.reshape(2, 60))
    torch.testing.assert_close(reduce_features(maps, "b c h w -> b h"), maps.mean((1, 3)))
    torch.testing.assert_close(reduce_features(maps, lambda t: t[:, :, 0, 0]), maps[:, :, 0, 0])
    tokens = torch.randn(2, 7, 6)
    torch.testing.assert_close(reduce_features(tokens), tokens.mean(1))
    volume = torch.arange(48.0).view(2, 3, 2, 2, 2)  # [N, C, D, H, W]: pooled over D, H, W
    torch.testing.assert_close(reduce_features(volume), volume.view(2, 3, 8).mean(2))
    assert reduce_features(torch.randn(5)).shape == (5, 1)
    labels = torch.tensor([0, 2, 1])
    assert reduce_features(labels).dtype == torch.int64 and reduce_features(labels).shape == (3, 1)
    with pytest.raises(ValueError, match="unknown reduce rule"):
        reduce_features(maps, "average")
    with pytest.raises(ValueError, match=r"not \[N, d\]"):
        reduce_features(maps, lambda t: t)
    with pytest.raises(ValueError, match="tokens"):
        reduce_features(maps, "cls")
