"""Tests for mist_reg.nn.quantization: thresholds, quantiles, k-means and the learned VQ."""

from __future__ import annotations

import pytest
import torch
from estimator_contract import check_state_round_trip

from mist_reg.nn.quantization import (
    KMeansQuantizer,
    QuantileQuantizer,
    ThresholdQuantizer,
    VectorQuantizer,
    inertia,
    kmeans,
)


def _blobs(n_per_blob: int = 200, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0], [0.0, -6.0], [0.0, 0.0]])
    return torch.cat([c + 0.5 * torch.randn(n_per_blob, 2, generator=generator) for c in centres])


def test_thresholds_bin_each_coordinate():
    quantizer = ThresholdQuantizer([[-1.0, 1.0], [0.0]])  # 3 x 2 cells
    samples = torch.tensor([[-2.0, -1.0], [-2.0, 1.0], [0.0, -1.0], [0.0, 1.0], [2.0, -1.0], [2.0, 1.0], [1.0, 0.0]])
    # a value equal to a threshold falls in the lower bin
    assert quantizer(samples).tolist() == [0, 1, 2, 3, 4, 5, 2]
    assert quantizer.n_bins == 6
    shared = ThresholdQuantizer(torch.tensor([0.0, 1.0]), dim=3)
    codes = shared(torch.tensor([[-1.0, 0.5, 2.0], [2.0, 2.0, 2.0]]))
    assert codes.tolist() == [0 * 9 + 1 * 3 + 2, 26] and shared.n_bins == 27
    with pytest.raises(ValueError, match="strictly increasing"):
        ThresholdQuantizer([1.0, 0.0])
    with pytest.raises(ValueError, match="2 features"):
        quantizer(torch.zeros(3, 5))


def test_quantile_quantizer_gives_equal_frequency_bins():
    samples = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0)).exp()
    quantizer = QuantileQuantizer(dim=2, bins_per_dim=4)
    with pytest.raises(RuntimeError, match="fitted first"):
        quantizer(samples)
    quantizer.fit(samples)
    counts = torch.bincount(quantizer(samples), minlength=16)
    per_coordinate = counts.reshape(4, 4).sum(1)
    assert quantizer.n_bins == 16
    assert bool(((per_coordinate - 1000).abs() <= 2).all())
    check_state_round_trip(lambda: QuantileQuantizer(dim=2, bins_per_dim=4), quantizer, lambda q: q(samples))


def test_kmeans_reduces_inertia_compared_to_random_centroids():
    samples = _blobs()
    generator = torch.Generator().manual_seed(1)
    random_centroids = samples[torch.randperm(len(samples), generator=generator)[:5]]
    fitted = kmeans(samples, 5, generator=torch.Generator().manual_seed(0))
    assert float(inertia(samples, fitted)) < 0.6 * float(inertia(samples, random_centroids))
    assert float(inertia(samples, fitted)) < 0.6  # close to the within-blob variance 2 * 0.25
    quantizer = KMeansQuantizer(dim=2, n_bins=5, seed=0).fit(samples)
    codes = quantizer(samples)
    assert sorted(torch.bincount(codes, minlength=5).tolist()) == [200] * 5  # one code per blob
    assert codes.dtype == torch.long and codes.shape == (1000,)


def test_kmeans_quantizer_state_and_errors():
    quantizer = KMeansQuantizer(dim=2, n_bins=4, seed=0)
    with pytest.raises(RuntimeError, match="fit_data"):
        quantizer(torch.zeros(3, 2))
    samples = _blobs(50)
    quantizer.fit(samples)
    clone = check_state_round_trip(lambda: KMeansQuantizer(dim=2, n_bins=4), quantizer, lambda q: q(samples))
    assert clone.fitted
    with pytest.raises(ValueError, match="at least 4 samples"):
        KMeansQuantizer(dim=2, n_bins=4).fit(samples[:3])
    with pytest.raises(ValueError, match="n_bins"):
        KMeansQuantizer(dim=2, n_bins=1)


def test_vector_quantizer_codes_in_range_and_learning():
    torch.manual_seed(0)
    samples = _blobs(100)
    vq = VectorQuantizer(dim=2, n_bins=8)
    codes = vq(samples)
    assert codes.dtype == torch.long and bool(((codes >= 0) & (codes < 8)).all())
    before = float(inertia(samples, vq.codebook.detach()))
    optimizer = torch.optim.Adam(vq.parameters(), lr=0.1)
    for _ in range(100):
        optimizer.zero_grad()
        vq.loss(samples).backward()
        optimizer.step()
    assert float(inertia(samples, vq.codebook.detach())) < 0.5 * before
    # straight-through: the quantized vectors pass the identity gradient to the inputs
    inputs = samples[:10].clone().requires_grad_(True)
    codes, quantized = vq.quantize(inputs)
    assert torch.allclose(quantized, vq.codebook[codes])
    quantized.sum().backward()
    assert torch.allclose(inputs.grad, torch.ones_like(inputs))
    # the commitment term pulls inputs towards their codes
    inputs.grad = None
    vq.loss(inputs).backward()
    assert inputs.grad.abs().sum() > 0


def test_vq_fit_initialises_the_codebook_on_data():
    samples = _blobs(100)
    vq = VectorQuantizer(dim=2, n_bins=5).fit(samples)
    assert float(inertia(samples, vq.codebook.detach())) < float(inertia(samples, torch.randn(5, 2)))
    check_state_round_trip(lambda: VectorQuantizer(dim=2, n_bins=5), vq, lambda q: q(samples))
