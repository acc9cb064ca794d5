"""mmlib.config: overrides and their coercion, the errors for unknown keys, sections and profiles, the
to_dict / from_dict round trip of every profile, and section hashes that change only with their sections."""

import hashlib
import json
from dataclasses import fields

import pytest

from mmlib.config import PROFILES, StudyConfig, TrainConfig, VideoConfig, apply_overrides, load_config, stable_hash

SECTIONS = ["audio", "data", "model", "run", "synth", "train", "video"]


def test_strings_are_coerced_to_the_fields_type():
    cfg = load_config("quick", {"train.max_epochs": "5", "train.lr": "0.01", "train.margin": "2",
                                "data.speaker_norm": "false", "model.aux_heads": "yes", "train.rank_weight": 1})
    assert cfg.train.max_epochs == 5 and type(cfg.train.max_epochs) is int
    assert cfg.train.lr == 0.01 and cfg.train.margin == 2.0 and type(cfg.train.margin) is float
    assert cfg.train.rank_weight == 1.0 and type(cfg.train.rank_weight) is float  # an int for a float field
    assert cfg.data.speaker_norm is False and cfg.model.aux_heads is True
    for text, value in (("1", True), ("true", True), ("True", True), ("YES", True),
                        ("0", False), ("false", False), ("No", False)):
        assert load_config("quick", {"data.speaker_norm": text}).data.speaker_norm is value, text
    with pytest.raises(ValueError, match=r"^config key 'speaker_norm' expects a bool, got 'maybe'$"):
        load_config("quick", {"data.speaker_norm": "maybe"})
    with pytest.raises(ValueError):
        load_config("quick", {"train.max_epochs": "five"})


def test_none_strings_and_lists():
    cfg = load_config("quick", {"audio.snr_db": "none", "data.root": "/corpus", "run.ray_address": "auto"})
    assert (cfg.audio.snr_db, cfg.data.root, cfg.run.ray_address) == (None, "/corpus", "auto")
    back = cfg.with_overrides({"data.root": "None", "run.ray_address": "NONE"})
    assert (back.data.root, back.run.ray_address) == (None, None)
    cfg = load_config("quick", {"video.face_box": [0, 0, 1, 1], "seeds": [1, 2], "folds": [3],
                                "train.rank_heads": ["matchmap"]})
    assert cfg.video.face_box == (0, 0, 1, 1) and cfg.seeds == (1, 2) and cfg.folds == (3,)
    assert cfg.train.rank_heads == ("matchmap",)
    assert apply_overrides(VideoConfig(), {"face_box": [0.2, 0.1, 0.8, 0.9], "size": "64"}) == VideoConfig(
        face_box=(0.2, 0.1, 0.8, 0.9), size=64)


def test_none_string_resets_a_number_field_to_none():
    # an Optional[float] that holds a number (the paper profile's 3 s chunks, a set SNR) takes "none" as None
    # like every other optional field; `-o audio.chunk_seconds=none` must not fail with float('none')
    assert load_config("paper", {"audio.chunk_seconds": "none"}).audio.chunk_seconds is None
    assert load_config("quick", {"audio.snr_db": 10.0}).with_overrides({"audio.snr_db": "none"}).audio.snr_db is None


def test_unknown_keys_and_sections_are_errors_that_name_the_choices():
    cfg = load_config("quick")
    with pytest.raises(KeyError) as err:
        cfg.with_overrides({"no_such": 1})
    assert err.value.args[0] == ("unknown config key 'no_such' in StudyConfig; valid: ['audio', 'data', 'folds', "
                                 "'model', 'profile', 'run', 'seeds', 'synth', 'train', 'video']")
    with pytest.raises(KeyError) as err:
        cfg.with_overrides({"nosection.lr": 1})
    assert err.value.args[0] == f"unknown config section 'nosection'; valid: {SECTIONS}"
    with pytest.raises(KeyError) as err:
        cfg.with_overrides({"profile.name": "x"})  # a top-level field, not a section
    assert err.value.args[0] == f"unknown config section 'profile'; valid: {SECTIONS}"
    with pytest.raises(KeyError) as err:
        cfg.with_overrides({"train.no_such": 1})
    valid = sorted(f.name for f in fields(TrainConfig))
    assert err.value.args[0] == f"train.unknown config key 'no_such' in TrainConfig; valid: {valid}"
    with pytest.raises(KeyError) as err:
        apply_overrides(TrainConfig(), {"no_such": 1})
    assert err.value.args[0] == f"unknown config key 'no_such' in TrainConfig; valid: {valid}"


def test_unknown_profile():
    with pytest.raises(KeyError) as err:
        load_config("nope")
    assert err.value.args[0] == "unknown profile 'nope'; choose one of ['cremad', 'default', 'paper', 'quick', 'ravdess']"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_round_trips_through_to_dict_and_json(profile):
    cfg = load_config(profile)
    assert cfg.profile == profile
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg
    assert StudyConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg  # lists back to tuples
    over = cfg.with_overrides({"folds": [1, 2], "seeds": [7], "video.face_box": [0, 0, 1, 1]})
    assert StudyConfig.from_dict(json.loads(json.dumps(over.to_dict()))) == over


def test_from_dict_rejects_an_unknown_key():
    with pytest.raises(KeyError) as err:
        StudyConfig.from_dict({**load_config("quick").to_dict(), "bogus": 1})
    assert err.value.args[0] == "unknown config key 'bogus'"


def test_hash_changes_only_when_a_named_section_changes():
    cfg = load_config("default")
    assert stable_hash({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()[:12]
    assert cfg.hash("audio") == stable_hash({"audio": cfg.to_dict()["audio"]}) and len(cfg.hash("audio")) == 12
    assert cfg.hash() == stable_hash(cfg.to_dict())  # no section named: all of them
    video = cfg.with_overrides({"video.size": 64})
    audio = cfg.with_overrides({"audio.n_mels": 64})
    train = cfg.with_overrides({"train.lr": 0.5})
    assert video.hash("audio") == cfg.hash("audio") and video.hash("video") != cfg.hash("video")
    assert audio.hash("video") == cfg.hash("video") and audio.hash("audio") != cfg.hash("audio")
    assert train.hash("audio", "video") == cfg.hash("audio", "video") and train.hash("train") != cfg.hash("train")
    assert video.hash("audio", "video") != cfg.hash("audio", "video") != audio.hash("audio", "video")
    assert all(c.hash() != cfg.hash() for c in (video, audio, train))
    assert cfg.with_overrides({"video.size": cfg.video.size}).hash("video") == cfg.hash("video")  # same value
    assert cfg.hash("audio", "video") == cfg.hash("video", "audio")  # a set of sections, not a sequence


def test_every_recipe_setting_is_written_once_per_profile():
    """One home for a recipe: RECIPES names every recipe key for every profile; PROFILES and CPU_SIZES name none."""
    from mmlib.config import CPU_SIZES, RECIPE_KEYS, RECIPES

    assert set(RECIPES) == set(PROFILES)
    for name, prof in PROFILES.items():
        assert not set(RECIPE_KEYS) & set(prof), (name, sorted(set(RECIPE_KEYS) & set(prof)))
        cfg = load_config(name)
        for key, value in RECIPES[name].settings.items():
            assert getattr(cfg.train, key.partition(".")[2]) == value, (name, key)
    assert not set(RECIPE_KEYS) & set(CPU_SIZES)
    assert load_config("default").train.lr == 5e-4 and load_config("ravdess").train.lr == 2e-3
    assert load_config("paper").train.lr == TrainConfig().lr == 1.077e-4  # the authors' value, from the dataclass
    assert [n for n, r in sorted(RECIPES.items()) if r.validated] == ["default"]
    assert all(r.provenance.split(":")[0] in ("validated", "authors", "unvalidated", "smoke test")
               for r in RECIPES.values())
    with pytest.raises(ValueError, match="a recipe sets exactly"):
        type(RECIPES["default"])({"train.lr": 1.0}, "unvalidated: x")
