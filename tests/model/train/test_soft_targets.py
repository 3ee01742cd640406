"""Teacher targets per crop: overlap weights by hand, the mapping of teacher labels onto the
schema, the mask (teacher tags, else the manifest's labels), and the batches that carry them
to the distillation objective."""

import numpy as np
import pytest
import torch

from model.config import ConfigError
from model.data.generic_csv import load_manifest, write_manifest
from model.teacher.label import TEACHER_DIR, track_key
from model.train.builders import build_schema, config_from_dict
from model.train.features import ClipWindows, LogMelCache, window_frames
from model.train.objectives import SupervisedObjective
from model.train.soft_targets import (
    TEACHER_WINDOW_S,
    TeacherTargets,
    TeacherTargetsError,
    crop_weights,
)
from tests.model.train.conftest import CONCEPTS, tiny_config, tiny_dict

W = TEACHER_WINDOW_S  # 2.992 s
LABELS = np.array(["Happy", "guitar", "jazz", "rock"])  # "guitar" is not a schema tag


def _write_teacher(folder, path, probs):
    (folder / TEACHER_DIR).mkdir(parents=True, exist_ok=True)
    probs = np.asarray(probs, np.float16)
    starts = (np.arange(len(probs)) * W).astype(np.float32)
    np.savez(folder / TEACHER_DIR / f"{track_key(path)}.npz", probs=probs, starts=starts,
             labels=LABELS, path=np.array(path))


def test_crop_weights_by_hand():
    starts = np.array([0.0, W, 2 * W])
    np.testing.assert_allclose(crop_weights(starts, 1.0, 1.0), [1, 0, 0])
    # [2.5, 3.5): 0.492 s of window 0 and 0.508 s of window 1
    np.testing.assert_allclose(crop_weights(starts, 2.5, 1.0), [W - 2.5, 3.5 - W, 0])
    # beyond the last window (the teacher drops a partial one): the nearest window
    np.testing.assert_allclose(crop_weights(starts, 20.0, 1.0), [0, 0, 1])


@pytest.fixture
def teacher_dir(tmp_path):
    # t0-0 (jazz;happy, train): two windows; t1-0 (rock;sad, train): one window
    _write_teacher(tmp_path, "audio/t0-0.wav", [[0.2, 0.9, 0.4, 0.1], [0.6, 0.9, 0.8, 0.3]])
    _write_teacher(tmp_path, "audio/t1-0.wav", [[0.5, 0.0, 0.25, 0.75]])
    return tmp_path


def _train(tiny_data):
    cfg = tiny_config(tiny_data)
    schema = build_schema(cfg, CONCEPTS)
    return cfg, load_manifest(tiny_data, schema=schema).split("train")


def test_teacher_labels_map_onto_schema_tags_and_mask_the_rest(tiny_data, teacher_dir):
    _, ds = _train(tiny_data)
    assert list(ds.schema.tags) == ["jazz", "rock", "folk", "happy", "sad"]
    teacher = TeacherTargets(ds, teacher_dir, tiny_data)
    assert teacher.columns.tolist() == [True, True, False, True, False]  # Happy matches happy
    i = [t.uid for t in ds].index("audio/t0-0.wav")
    hard = ds.labels()[i]
    target, mask = teacher.targets(i, 2.5, 1.0, hard, labelled=True)
    w0, w1 = (W - 2.5), (3.5 - W)
    mean = lambda a, b: (w0 * a + w1 * b) / (w0 + w1)  # noqa: E731
    expected = [mean(0.4, 0.8), mean(0.1, 0.3), 0.0, mean(0.2, 0.6), 0.0]
    np.testing.assert_allclose(target, expected, atol=1e-3)  # probs were stored as float16
    assert mask.all()
    # an unlabelled clip: only the teacher's tags are labelled, the others are masked
    _, mask = teacher.targets(i, 0.0, 1.0, np.zeros(5), labelled=False)
    assert mask.tolist() == [True, True, False, True, False]
    # a clip without teacher outputs keeps its hard tags where the manifest labels it
    j = [t.uid for t in ds].index("audio/t2-0.wav")
    target, mask = teacher.targets(j, 0.0, 1.0, ds.labels()[j], labelled=True)
    assert target.tolist() == ds.labels()[j].tolist() and mask.all()
    _, mask = teacher.targets(j, 0.0, 1.0, ds.labels()[j], labelled=False)
    assert not mask.any()


def test_teacher_errors_name_the_problem(tiny_data, tmp_path):
    _, ds = _train(tiny_data)
    with pytest.raises(TeacherTargetsError, match="no teacher outputs in"):
        TeacherTargets(ds, tmp_path / "nothing", tiny_data)
    (tmp_path / TEACHER_DIR).mkdir()
    np.savez(tmp_path / TEACHER_DIR / f"{track_key('audio/t0-0.wav')}.npz",
             probs=np.zeros((1, 1), np.float16), starts=np.zeros(1, np.float32),
             labels=np.array(["guitar"]))
    with pytest.raises(TeacherTargetsError, match="none of the schema's tags"):
        TeacherTargets(ds, tmp_path, tiny_data)
    with pytest.raises(ConfigError, match="data.teacher"):
        d = tiny_dict(tiny_data)
        d["data"]["teacher"] = str(tmp_path)
        config_from_dict(d)


def test_batches_carry_per_crop_targets_to_the_distillation_objective(tiny_data, teacher_dir):
    cfg, ds = _train(tiny_data)
    cache = LogMelCache(ds, cfg.encoder, 10**8)
    teacher = TeacherTargets(ds, teacher_dir, tiny_data)
    clips = ClipWindows(cache, window_frames(cfg.encoder), seed=0, teacher=teacher)
    batch = next(clips.batches(0, 16, views=2))
    b = batch.tags.shape[0]
    assert batch.soft.shape == batch.soft_mask.shape == (2 * b, 5)
    hop_s = cfg.encoder.hop_length / cfg.encoder.sample_rate
    for v in range(2):
        for j, i in enumerate(batch.index.tolist()):
            t, m = teacher.targets(i, float(batch.offsets[j, v]) * hop_s,
                                   cfg.encoder.clip_seconds, clips.tags[i], True)
            np.testing.assert_allclose(batch.soft[v * b + j].numpy(), t)
            assert batch.soft_mask[v * b + j].tolist() == m.tolist()
    cfg = tiny_config(tiny_data, loss={"method": "distillation"})
    schema = build_schema(cfg, CONCEPTS)
    obj = SupervisedObjective(cfg.loss, schema, torch.Generator().manual_seed(0))
    z = torch.randn(2 * b, schema.dim, generator=torch.Generator().manual_seed(1))
    got = obj(z, batch.tags, batch.labelled, batch.groups, batch.soft, batch.soft_mask)
    torch.testing.assert_close(got, obj.loss(z, batch.soft, None, batch.soft_mask))
    assert got != obj(z, batch.tags, batch.labelled, batch.groups)  # hard tags differ
    proxy = SupervisedObjective(tiny_config(tiny_data).loss, schema)
    with pytest.raises(ValueError, match="soft targets go with loss.method 'distillation'"):
        proxy(z, batch.tags, batch.labelled, batch.groups, batch.soft, batch.soft_mask)


def test_a_distillation_run_learns_from_the_teacher(tiny_data, teacher_dir, tmp_path):
    from model.checkpoint import load_checkpoint
    from model.train.run import train

    d = tiny_dict(tiny_data, epochs=1, loss={"method": "distillation"})
    d["data"]["teacher"] = str(teacher_dir)
    result = train(config_from_dict(d), tmp_path / "run", evaluate=False)
    info = load_checkpoint(result.checkpoint).info["training"]
    assert info["config"]["data"]["teacher"] == str(teacher_dir)
    assert info["tag_head"] == "copied"
    assert np.isfinite(info["history"][0]["train_supervised"])


def test_unlabelled_clips_with_teacher_outputs_train_the_distillation(tmp_path):
    import csv

    from model.train.run import train
    from tests.model.train.conftest import write_dataset

    data = write_dataset(tmp_path / "data")
    with (data / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:  # untag two clips the teacher covers and one it does not
        if r["path"] in ("audio/t0-0.wav", "audio/t1-0.wav", "audio/t2-0.wav"):
            r["tags"] = ""
    write_manifest(data / "manifest.csv", rows)
    _write_teacher(tmp_path / "teacher", "audio/t0-0.wav", [[0.2, 0.9, 0.4, 0.1]])
    _write_teacher(tmp_path / "teacher", "audio/t1-0.wav", [[0.5, 0.0, 0.25, 0.75]])
    d = tiny_dict(data, epochs=1, loss={"method": "distillation"})
    d["data"]["teacher"] = str(tmp_path / "teacher")
    info = train(config_from_dict(d), tmp_path / "run", evaluate=False).training
    assert (info["train_clips"], info["labelled_train_clips"]) == (15, 13)
