"""Loud, quiet and cut audio through the API (SQLite and PostgreSQL): a float32 WAV's
amplitude swept from 1e-30 to 1e38 never gives a 500 or a non-finite score; quiet audio is a
clear 422, loud audio is answered as the same audio at full scale.

Found from outside: a 440 Hz sine scaled by 1e17 or more gave ``500 internal error`` on POST
/similar (NaN query vector) and a 422 leaking ``invalid score of tag ... nan`` on POST /tracks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.audio import encode
from tests.service.conftest import Catalogue, upload


def sine_wav(amplitude: float, rate: int = 44100, seconds: float = 3.0) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    x = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return encode(x, rate, "wav", "FLOAT")


def similar(catalogue: Catalogue, amplitude: float):
    return catalogue.client.post("/similar", files={"file": ("s.wav", sine_wav(amplitude))},
                                 data={"k": "3"})


def test_an_amplitude_sweep_never_breaks_a_query(catalogue: Catalogue) -> None:
    full_scale = similar(catalogue, 1.0).json()
    for exponent in range(-30, 39):
        amplitude = 10.0**exponent
        r = similar(catalogue, amplitude)
        if amplitude < 1e-3:  # RMS below -80 dBFS
            assert r.status_code == 422 and "audio is silent" in r.json()["detail"], r.text
            continue
        assert r.status_code == 200, (amplitude, r.text)
        body = r.json()
        scores = [h["score"] for h in body["results"]] + [
            c for h in body["results"] for c in h["facets"].values()]
        assert all(math.isfinite(s) for s in scores)
        if 1.0 <= amplitude <= 1e29:  # the same audio at full scale: the same answer
            assert [h["track"]["id"] for h in body["results"]] == [
                h["track"]["id"] for h in full_scale["results"]]
            np.testing.assert_allclose([h["score"] for h in body["results"]],
                                       [h["score"] for h in full_scale["results"]], atol=1e-4)


@pytest.mark.parametrize("amplitude", [1e17, 1e38])
def test_loud_audio_is_ingested_with_finite_tags(catalogue: Catalogue, amplitude: float
                                                 ) -> None:
    r = upload(catalogue.client, sine_wav(amplitude), name="loud.wav")
    assert r.status_code == 201, r.text
    scores = [t["score"] for tags in r.json()["track"]["tags"].values() for t in tags]
    assert scores and all(math.isfinite(s) and 0 <= s <= 1 for s in scores)


def test_a_non_finite_embedding_is_a_clear_422(catalogue: Catalogue, monkeypatch) -> None:
    """The guard behind the decoder: were the encoder to give NaN, nothing is stored."""
    import torch

    encoder = catalogue.client.app.state.catalog.model.encoder
    real = encoder.embed_features
    monkeypatch.setattr(encoder, "embed_features",
                        lambda x: real(x) * torch.tensor(float("nan")))
    before = catalogue.client.get("/tracks").json()["total"]
    for r in (similar(catalogue, 0.5), upload(catalogue.client, sine_wav(0.5), name="n.wav")):
        assert r.status_code == 422, r.text
        assert r.json() == {"detail": "cannot embed this audio: the encoder produced non-finite "
                                      "values"}
    assert catalogue.client.get("/tracks").json()["total"] == before


@pytest.mark.parametrize("cut", ["wav-1h", "wav-6.7h", "ogg-half"])
def test_a_cut_file_is_refused_not_ingested_short(catalogue: Catalogue, cut: str) -> None:
    """Found from outside: a WAV declaring 1 h (or 6.7 h) holding 2 s, and an Ogg cut to half,
    were ingested as short tracks (201)."""
    from tests.model.test_audio_integrity import MUSIC, SR, wav_declaring

    data = {"wav-1h": wav_declaring(3600.0, 2.0), "wav-6.7h": wav_declaring(6.7 * 3600, 2.0),
            "ogg-half": (ogg := encode(MUSIC, SR, "ogg"))[: len(ogg) // 2]}[cut]
    before = catalogue.client.get("/tracks").json()["total"]
    r = upload(catalogue.client, data, name="cut")
    assert r.status_code == 415, r.text
    assert r.json()["detail"].startswith("cannot decode audio: the data is truncated: its ")
    assert catalogue.client.get("/tracks").json()["total"] == before
