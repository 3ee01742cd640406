import pytest
import torch
import torch.nn.functional as F

from layout.facets import unit_facets
from model.config import ConfigError, EncoderConfig
from tests.utils.models import tiny_config, tiny_encoder


def _wave(batch: int, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, int(16_000 * seconds), generator=g)


def test_shapes_and_facet_normalisation():
    enc = tiny_encoder()
    out = enc(_wave(3))
    assert out.embedding.shape == (3, enc.schema.dim)
    assert out.logits.shape == (3, enc.schema.num_tags)
    zn = unit_facets(out.embedding, enc.schema)
    for f in enc.schema.facets:
        torch.testing.assert_close(zn[:, f.slice].norm(dim=1), torch.ones(3))


def test_cosine_head_equals_hand_computation():
    enc = tiny_encoder(seed=3)
    with torch.no_grad():
        enc.head.bias.copy_(torch.linspace(-1, 1, enc.schema.num_tags))
        z = enc.embed(_wave(2))
        logits = enc.head(z)
    for t, tag in enumerate(enc.schema.tags):
        f = enc.schema.facet_of_concept(enc.schema.concept_of_tag(tag))
        cos = F.cosine_similarity(z[:, f.slice], enc.head.proxies[t][None, :], dim=1)
        expected = enc.head.scale[t] * cos + enc.head.bias[t]
        torch.testing.assert_close(logits[:, t], expected, rtol=1e-5, atol=1e-5)


def test_eval_mode_batch_equals_single():
    enc = tiny_encoder()
    w = _wave(4, seed=1)
    with torch.no_grad():
        batched = enc(w).embedding
        single = torch.cat([enc(w[i : i + 1]).embedding for i in range(4)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)


def test_linear_head():
    enc = tiny_encoder(head="linear")
    assert enc(_wave(2)).logits.shape == (2, enc.schema.num_tags)
    with pytest.raises(TypeError, match="no proxies"):
        enc.head.proxy_vectors()


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"expected a \(batch, samples\) waveform"):
        tiny_encoder().embed(torch.zeros(16_000))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sample_rate": 100}, "sample_rate"),
        ({"clip_seconds": 0.1}, "clip_seconds"),
        ({"head": "mlp"}, "head"),
        ({"channels": (8, 0)}, "channels"),
        ({"n_mels": 4, "channels": (8, 8, 8)}, "too small"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EncoderConfig(**kwargs)


def test_config_round_trip_and_unknown_keys():
    cfg = tiny_config()
    assert EncoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown EncoderConfig keys: \\['dropout'\\]"):
        EncoderConfig.from_dict({**cfg.to_dict(), "dropout": 0.1})
