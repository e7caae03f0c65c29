"""Tests for checkpoint folders: `save_checkpoint`, `load_checkpoint`, `atomic_write`, and
the `CheckpointError` for each missing, truncated, corrupt or mismatched file."""

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import typedgpt as tg
import typedgpt._checkpoint as checkpoint_module
from typedgpt._checkpoint import (
    COMMITTED_DIR,
    CONFIG_FILE,
    MODEL_FILE,
    OPTIMIZER_FILE,
    STAGING_DIR,
    STATE_FILE,
    TOKENIZER_FILE,
    CheckpointError,
    atomic_write,
    config_from_dict,
    config_to_dict,
    holds_checkpoint,
    save_checkpoint,
)
from typedgpt._checkpoint_load import load_checkpoint
from typedgpt._text import write_text_atomic

TEXT = "kari\nmolu\nsenta\nvino\n"
TOKENIZER = tg.CharTokenizer.from_text(TEXT)
CONFIG = tg.GPTConfig.microgpt(vocab_size=TOKENIZER.vocab_size)
# A GPT-2 style config: tied head, biases, LayerNorm with parameters; 2 layers.
GPT2_CONFIG = tg.GPTConfig.gpt2(
    vocab_size=11, num_layers=2, num_heads=2, embed_dim=8, mlp_dim=16, max_seq_len=8
)


def optimizer_arrays() -> list[np.ndarray]:
    """Thirteen arrays of several dtypes and ranks, so that order '00010' after '00009', a
    0-d int32 step counter (as optax keeps one) and a uint32 PRNG key's data are exercised."""
    arrays: list[np.ndarray] = [np.array(7, dtype=np.int32)]
    for i in range(1, 12):
        arrays.append(np.arange(i * 3, dtype=np.float32).reshape(i, 3) * np.float32(i + 0.5))
    arrays.append(np.array([0, 2**32 - 1], dtype=np.uint32))
    return arrays


TRAIN_STATE: dict[str, Any] = {
    "step": 7,
    "seed": 3,
    "data_rng": np.random.default_rng(3).bit_generator.state,
}


def gpt2_shapes(config: tg.GPTConfig) -> dict[str, tuple[int, ...]]:
    """Hugging Face GPT-2's parameter names and Conv1D shapes for `config`, written out."""
    embed, mlp = config.embed_dim, config.mlp_dim
    shapes: dict[str, tuple[int, ...]] = {
        "wte.weight": (config.vocab_size, embed),
        "wpe.weight": (config.max_seq_len, embed),
    }
    norms = ["weight", "bias"] if config.norm == "layernorm" else ["weight"]
    for i in range(config.num_layers):
        layer: dict[str, tuple[int, ...]] = {}
        if config.norm_has_params:
            layer |= {f"ln_1.{p}": (embed,) for p in norms}
            layer |= {f"ln_2.{p}": (embed,) for p in norms}
        for name, (fan_in, fan_out) in {
            "attn.c_attn": (embed, 3 * embed),
            "attn.c_proj": (embed, embed),
            "mlp.c_fc": (embed, mlp),
            "mlp.c_proj": (mlp, embed),
        }.items():
            layer[f"{name}.weight"] = (fan_in, fan_out)
            if config.use_bias:
                layer[f"{name}.bias"] = (fan_out,)
        shapes |= {f"h.{i}.{name}": shape for name, shape in layer.items()}
    if config.final_norm and config.norm_has_params:
        shapes |= {f"ln_f.{p}": (embed,) for p in norms}
    if not config.tie_embeddings:
        shapes["lm_head.weight"] = (config.vocab_size, embed)
    return shapes


def random_model(config: tg.GPTConfig, seed: int) -> tg.GPT:
    """A model with random parameters, built from a state dict (no eager initialisation,
    which compiles op by op and is slow on a small CPU)."""
    rng = np.random.default_rng(seed)
    tensors = {
        name: rng.normal(0.0, 0.1, size=shape).astype(np.float32)
        for name, shape in gpt2_shapes(config).items()
    }
    return tg.GPT.from_state_dict(config, tensors)


@pytest.fixture(scope="module")
def model() -> tg.GPT:
    return random_model(CONFIG, seed=5)


@pytest.fixture
def folder(tmp_path: Path, model: tg.GPT) -> Path:
    """A complete training checkpoint."""
    out = tmp_path / "ckpt"
    save_checkpoint(
        out,
        model,
        tokenizer_json=TOKENIZER.to_json(),
        optimizer_arrays=optimizer_arrays(),
        train_state=TRAIN_STATE,
    )
    return out


def rewrite(folder: Path, name: str, data: bytes) -> None:
    """Replace a file and record its new hash, so the check under test is not the hash."""
    (folder / name).write_bytes(data)
    state = json.loads((folder / STATE_FILE).read_text())
    state["files"][name] = hashlib.sha256(data).hexdigest()
    (folder / STATE_FILE).write_text(json.dumps(state))


def edit_config(folder: Path, **changes: Any) -> None:
    data = json.loads((folder / CONFIG_FILE).read_text())
    data.update(changes)
    rewrite(folder, CONFIG_FILE, json.dumps(data).encode())


# Round trip


def test_round_trip(folder: Path, model: tg.GPT) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE]
    )
    checkpoint = load_checkpoint(folder)
    assert checkpoint.model.config == CONFIG
    saved, loaded = model.state_dict(), checkpoint.model.state_dict()
    assert saved.keys() == loaded.keys()
    for name in saved:
        np.testing.assert_array_equal(loaded[name], saved[name], err_msg=name)
        assert loaded[name].dtype == saved[name].dtype
    tokens = jnp.asarray(TOKENIZER.encode("karimo"), dtype=jnp.int32)
    np.testing.assert_array_equal(np.asarray(checkpoint.model(tokens)), np.asarray(model(tokens)))

    assert checkpoint.tokenizer_json == {"kind": "char", "chars": TOKENIZER.chars}
    assert tg.tokenizer_from_json(checkpoint.tokenizer_json) == TOKENIZER

    assert checkpoint.optimizer_arrays is not None
    expected = optimizer_arrays()
    assert len(checkpoint.optimizer_arrays) == len(expected)
    for got, want in zip(checkpoint.optimizer_arrays, expected, strict=True):
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)

    state = checkpoint.train_state
    assert state is not None
    for field in ("step", "seed", "data_rng"):
        assert state[field] == TRAIN_STATE[field]
    rng = np.random.default_rng(0)
    rng.bit_generator.state = state["data_rng"]
    assert rng.integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    # train_state.json records the SHA-256 of every other file, as written.
    assert state["files"] == {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in (CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, TOKENIZER_FILE)
    }


def test_round_trip_gpt2_style(tmp_path: Path) -> None:
    model = random_model(GPT2_CONFIG, seed=2)
    save_checkpoint(tmp_path, model)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CONFIG_FILE, MODEL_FILE, STATE_FILE]
    checkpoint = load_checkpoint(tmp_path, expect_config=GPT2_CONFIG)
    assert checkpoint.model.config == GPT2_CONFIG
    assert "lm_head.weight" not in checkpoint.model.state_dict()
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(checkpoint.model.state_dict()[name], array, err_msg=name)
    assert checkpoint.tokenizer_json is None
    assert checkpoint.optimizer_arrays is None
    assert checkpoint.train_state is not None
    assert set(checkpoint.train_state) == {"files"}


def test_a_hugging_face_folder_is_named_with_the_loader_to_use(tmp_path: Path) -> None:
    tg.save_pretrained(random_model(GPT2_CONFIG, seed=2), tmp_path)
    with pytest.raises(tg.CheckpointError) as error:
        load_checkpoint(tmp_path)
    assert str(error.value) == (
        f"{tmp_path} is a Hugging Face folder (its config.json has model_type 'gpt2'), not a "
        f"typedgpt checkpoint: load it with tg.from_pretrained({str(tmp_path)!r})"
    )


def test_round_trip_with_every_option(tmp_path: Path) -> None:
    config = GPT2_CONFIG.replace(
        num_heads=4, mlp="swiglu", position_encoding="rope", rope_base=500.0, num_kv_heads=2
    )
    model = tg.GPT(config, key=jax.random.key(3))
    save_checkpoint(tmp_path, model)
    data = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert (data["mlp"], data["position_encoding"]) == ("swiglu", "rope")
    assert (data["rope_base"], data["num_kv_heads"]) == (500.0, 2)
    checkpoint = load_checkpoint(tmp_path, expect_config=config)
    assert checkpoint.model.config == config
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(checkpoint.model.state_dict()[name], array, err_msg=name)


def test_a_config_saved_before_the_options_loads_with_their_defaults(folder: Path) -> None:
    data = json.loads((folder / CONFIG_FILE).read_text())
    for field in ("mlp", "position_encoding", "rope_base", "num_kv_heads"):
        del data[field]
    (folder / CONFIG_FILE).write_text(json.dumps(data))
    (folder / STATE_FILE).unlink()  # its hash of config.json is the new file's no longer
    checkpoint = load_checkpoint(folder, expect_config=CONFIG)
    assert checkpoint.model.config == CONFIG
    assert CONFIG.mlp == "standard" and CONFIG.num_kv_heads is None


def test_saving_again_replaces_every_file(folder: Path) -> None:
    other = random_model(CONFIG, seed=6)
    save_checkpoint(folder, other, train_state={"step": 9})
    checkpoint = load_checkpoint(folder)
    np.testing.assert_array_equal(
        checkpoint.model.state_dict()["wte.weight"], other.state_dict()["wte.weight"]
    )
    assert checkpoint.train_state is not None
    assert checkpoint.train_state["step"] == 9
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_saving_again_removes_the_files_the_new_checkpoint_lacks(folder: Path) -> None:
    save_checkpoint(folder, random_model(CONFIG, seed=6), train_state={"step": 9})
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, MODEL_FILE, STATE_FILE]
    checkpoint = load_checkpoint(folder)
    assert checkpoint.tokenizer_json is None
    assert checkpoint.optimizer_arrays is None


# A crash while saving


def assert_loads_step(folder: Path, model: tg.GPT, step: int) -> None:
    checkpoint = load_checkpoint(folder, expect_config=CONFIG)
    assert checkpoint.train_state is not None
    assert checkpoint.train_state["step"] == step
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(checkpoint.model.state_dict()[name], array, err_msg=name)
    assert checkpoint.tokenizer_json == TOKENIZER.to_json()
    assert checkpoint.optimizer_arrays is not None


def save_step_9(folder: Path, model: tg.GPT) -> None:
    save_checkpoint(
        folder,
        model,
        tokenizer_json=TOKENIZER.to_json(),
        optimizer_arrays=optimizer_arrays(),
        train_state={**TRAIN_STATE, "step": 9},
    )


def test_a_crash_before_the_commit_keeps_the_previous_checkpoint(
    folder: Path, model: tg.GPT, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The new model and optimizer state are written, then the process dies before the last
    # file: the folder must still hold the whole previous checkpoint, not a mix.
    write = checkpoint_module.atomic_write

    def crash_at_the_state_file(path: Path, data: bytes) -> None:
        if path.name == STATE_FILE:
            raise OSError("power cut")
        write(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write", crash_at_the_state_file)
    with pytest.raises(OSError, match="power cut"):
        save_step_9(folder, random_model(CONFIG, seed=6))
    monkeypatch.undo()
    assert_loads_step(folder, model, 7)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE]
    )


def test_a_killed_save_leaves_a_staging_folder_that_is_ignored(folder: Path, model: tg.GPT) -> None:
    # What SIGKILL leaves half-way through writing the staging folder: no cleanup ran.
    staging = folder / STAGING_DIR
    staging.mkdir()
    (staging / MODEL_FILE).write_bytes(b"half a file")
    assert_loads_step(folder, model, 7)
    other = random_model(CONFIG, seed=6)
    save_step_9(folder, other)
    assert not staging.exists()
    assert_loads_step(folder, other, 9)


def test_a_crash_after_the_commit_loads_the_new_checkpoint(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commit (the rename of the staging folder) is done, and the process dies while
    # moving the files into place: the new checkpoint is complete in .checkpoint.new.
    replace = os.replace

    def crash_moving_the_state_file(src: Any, dst: Any) -> None:
        if Path(dst) == folder / STATE_FILE:
            raise OSError("power cut")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_moving_the_state_file)
    other = random_model(CONFIG, seed=6)
    with pytest.raises(OSError, match="power cut"):
        save_step_9(folder, other)
    monkeypatch.undo()
    assert (folder / COMMITTED_DIR / STATE_FILE).exists()
    assert holds_checkpoint(folder)
    assert_loads_step(folder, other, 9)
    # The next save finishes moving the committed files before it writes its own.
    third = random_model(CONFIG, seed=8)
    save_checkpoint(
        folder, third, tokenizer_json=TOKENIZER.to_json(), optimizer_arrays=optimizer_arrays()
    )
    assert not (folder / COMMITTED_DIR).exists()
    checkpoint = load_checkpoint(folder)
    np.testing.assert_array_equal(
        checkpoint.model.state_dict()["wte.weight"], third.state_dict()["wte.weight"]
    )


def test_a_first_save_that_crashed_after_the_commit_holds_a_checkpoint(
    tmp_path: Path, model: tg.GPT, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ckpt"
    replace = os.replace

    def crash_moving_the_state_file(src: Any, dst: Any) -> None:
        if Path(dst) == folder / STATE_FILE:
            raise OSError("power cut")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_moving_the_state_file)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(
            folder,
            model,
            tokenizer_json=TOKENIZER.to_json(),
            optimizer_arrays=optimizer_arrays(),
            train_state=TRAIN_STATE,
        )
    assert not (folder / STATE_FILE).exists()
    assert holds_checkpoint(folder)
    assert_loads_step(folder, model, 7)


def test_config_dict_round_trip() -> None:
    for config in (CONFIG, GPT2_CONFIG):
        data = config_to_dict(config)
        assert data["vocab_size"] == config.vocab_size
        assert config_from_dict(json.loads(json.dumps(data))) == config


def test_config_from_dict_errors() -> None:
    with pytest.raises(CheckpointError, match=r"here.json: expected a JSON object"):
        config_from_dict([1, 2], source="here.json")
    data = config_to_dict(CONFIG)
    with pytest.raises(CheckpointError, match=r"here.json: unknown GPTConfig fields \['colour'\]"):
        config_from_dict({**data, "colour": "red"}, source="here.json")
    del data["num_heads"]
    with pytest.raises(CheckpointError, match=r"here.json: .*num_heads"):
        config_from_dict(data, source="here.json")


# atomic_write


def test_atomic_write_follows_a_link_and_refuses_a_device(tmp_path: Path) -> None:
    # The rename replaced whatever was at the path: a link with a file (the file it named
    # kept its old contents), and, run as root, /dev/null with a plain file.
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match=r"pipe: it is not a regular file .*; name a file"):
        atomic_write(pipe, b"data")
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_atomic_write_gives_the_mode_open_would(tmp_path: Path) -> None:
    # tempfile would make the files readable by their owner only; a checkpoint is shared as a
    # file written with open() would be, under the process's umask.
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "shared", b"data")
        write_text_atomic(tmp_path / "shared.txt", "data")  # a tokenizer's save
        os.umask(0o077)
        atomic_write(tmp_path / "private", b"data")
        write_text_atomic(tmp_path / "private.txt", "data")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "file.bin"
    atomic_write(path, b"old")
    assert path.read_bytes() == b"old"
    atomic_write(path, b"new content")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


def test_failed_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "file.bin"
    atomic_write(path, b"old")

    def fail(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "file.bin"
    atomic_write(path, b"old")

    def fail(fd: int) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="no space left"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_saving_into_a_file(tmp_path: Path, model: tg.GPT) -> None:
    path = tmp_path / "run"
    path.write_text("not a folder")
    with pytest.raises(
        NotADirectoryError,
        match=rf"{re.escape(str(path))} is a file, not a folder: name a folder for the checkpoint",
    ):
        save_checkpoint(path, model)
    assert path.read_text() == "not a folder"


def test_saving_a_tokenizer_instead_of_its_json(tmp_path: Path, model: tg.GPT) -> None:
    with pytest.raises(
        TypeError,
        match=r"tokenizer_json must be the dict that tokenizer\.to_json\(\) returns, "
        r"got CharTokenizer: pass tokenizer_json=tokenizer\.to_json\(\)",
    ):
        save_checkpoint(tmp_path / "ckpt", model, tokenizer_json=TOKENIZER)  # type: ignore[arg-type]
    assert not (tmp_path / "ckpt").exists()


def test_save_and_load_expand_the_home_folder(
    tmp_path: Path, model: tg.GPT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`save_checkpoint("~/run")` made a folder named "~" in the working folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    save_checkpoint("~/my run", model)
    assert sorted(os.listdir(tmp_path)) == ["home"]
    assert (tmp_path / "home" / "my run" / MODEL_FILE).is_file()
    assert load_checkpoint("~/my run").model.config == CONFIG


def test_saving_under_a_file(tmp_path: Path, model: tg.GPT) -> None:
    """It raised mkdir's bare "[Errno 20] Not a directory", naming no file."""
    (tmp_path / "notes").write_text("a file")
    with pytest.raises(
        NotADirectoryError, match=r"cannot make the checkpoint folder .*: .*notes is a file"
    ):
        save_checkpoint(tmp_path / "notes" / "run", model)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train_state": [1]}, r"^train_state must be a dict of JSON data, got list$"),
        (
            {"train_state": {"loss": np.float32(1.5)}},
            r"^train_state cannot be written as JSON to train_state\.json: Object of type "
            r"float32 .*x\.tolist\(\) for NumPy values\)$",
        ),
        ({"train_state": {1: "a"}}, r"^train_state has keys that are not str, such as 1"),
        (
            {"tokenizer_json": {"kind": b"char"}},
            r"^tokenizer_json cannot be written as JSON to tokenizer\.json: Object of type bytes",
        ),
        (
            {"optimizer_arrays": np.zeros(3)},
            r"^optimizer_arrays must be a list of arrays, got a ndarray",
        ),
        (
            {"optimizer_arrays": [np.zeros(2), np.zeros(2, np.complex64)]},
            r"^optimizer_arrays\[1\] has dtype complex64, which a checkpoint cannot hold",
        ),
        (
            {"optimizer_arrays": [jax.random.key(0)]},
            r"^optimizer_arrays\[0\] is not an array .*jax\.random\.key_data",
        ),
    ],
    ids=[
        "state-list",
        "state-numpy",
        "state-int-key",
        "tokenizer-bytes",
        "one-array",
        "complex",
        "key",
    ],
)
def test_data_a_checkpoint_cannot_hold(
    tmp_path: Path, model: tg.GPT, changes: dict[str, Any], message: str
) -> None:
    """Each was a bare error from json or safetensors (a list of train_state: "cannot convert
    dictionary update sequence element"), or worse: one array was saved as its rows, and a
    complex64 one was saved and then refused as corrupt by load_checkpoint."""
    with pytest.raises(TypeError, match=message):
        save_checkpoint(tmp_path / "ckpt", model, **changes)
    assert not (tmp_path / "ckpt").exists()


# Errors: missing and incomplete folders


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint folder .*nowhere does not exist"):
        load_checkpoint(tmp_path / "nowhere")


def test_a_file_instead_of_a_folder(folder: Path) -> None:
    with pytest.raises(
        CheckpointError,
        match=rf"model\.safetensors is a file, not a checkpoint folder: pass the folder "
        rf"that holds config\.json and model\.safetensors \({re.escape(str(folder))}\)",
    ):
        load_checkpoint(folder / MODEL_FILE)


def test_arguments_of_the_wrong_kind(tmp_path: Path, model: tg.GPT) -> None:
    with pytest.raises(TypeError, match=r"^model must be a tg\.GPT, got str$"):
        save_checkpoint(tmp_path / "ckpt", "model")  # type: ignore[arg-type]
    assert not (tmp_path / "ckpt").exists()
    save_checkpoint(tmp_path / "ckpt", model)
    message = r"^expect_config must be a tg\.GPTConfig or None, got dict$"
    with pytest.raises(TypeError, match=message):
        load_checkpoint(tmp_path / "ckpt", expect_config={"num_layers": 2})  # type: ignore[arg-type]


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"has no config\.json: it is incomplete"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("name", [CONFIG_FILE, MODEL_FILE])
@pytest.mark.parametrize("with_state", [True, False], ids=["with-state", "without-state"])
def test_missing_file(folder: Path, name: str, with_state: bool) -> None:
    (folder / name).unlink()
    if not with_state:
        (folder / STATE_FILE).unlink()
    with pytest.raises(CheckpointError, match=rf"has no {name}: it is incomplete"):
        load_checkpoint(folder)


@pytest.mark.parametrize("name", [TOKENIZER_FILE, OPTIMIZER_FILE])
def test_missing_file_the_state_records(folder: Path, name: str) -> None:
    (folder / name).unlink()
    with pytest.raises(
        CheckpointError,
        match=rf"has no {name}: it is incomplete; restore {name} from a copy of the folder, "
        "or use an earlier checkpoint",
    ):
        load_checkpoint(folder)


@pytest.mark.parametrize("name", [STATE_FILE, TOKENIZER_FILE])
def test_a_folder_where_a_file_should_be(folder: Path, name: str) -> None:
    """A bare IsADirectoryError."""
    (folder / name).unlink()
    (folder / name).mkdir()
    with pytest.raises(CheckpointError, match=rf"^cannot read .*{name}: Is a directory$"):
        load_checkpoint(folder)


def test_deeply_nested_train_state(folder: Path) -> None:
    """A bare RecursionError from json."""
    (folder / STATE_FILE).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(CheckpointError, match=r"train_state\.json is corrupt: maximum recursion"):
        load_checkpoint(folder)


def test_a_save_while_loading_is_read_again(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process saves (training, while `typedgpt sample` reads the folder): the read
    saw the old train_state.json and the new optimizer file, and called it corrupt."""
    newer = random_model(CONFIG, seed=9)
    newer_arrays = [a + 1 for a in optimizer_arrays()]
    saves: list[int] = []

    def read_then_save(data: bytes) -> dict[str, np.ndarray]:
        if not saves:  # the first file read: the model; the save lands before the next
            saves.append(1)
            save_checkpoint(
                folder,
                newer,
                tokenizer_json=TOKENIZER.to_json(),
                optimizer_arrays=newer_arrays,
                train_state={"step": 8},
            )
        return checkpoint_module.read_safetensors(data)

    monkeypatch.setattr("typedgpt._checkpoint_load.read_safetensors", read_then_save)
    loaded = load_checkpoint(folder)
    assert loaded.train_state is not None and loaded.train_state["step"] == 8
    assert loaded.optimizer_arrays is not None
    for got, want in zip(loaded.optimizer_arrays, newer_arrays, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.model.lm_head, newer.lm_head)


def test_saves_that_never_pause_are_named(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / OPTIMIZER_FILE).write_bytes(b"changed")
    counter = iter(range(1_000))
    monkeypatch.setattr("typedgpt._checkpoint_load._snapshot", lambda folder: [next(counter)])
    with pytest.raises(
        CheckpointError, match=r"does not match the hash .*another process saved into .* 5 times"
    ):
        load_checkpoint(folder)


# Errors: truncated and corrupt files


def test_truncated_model_detected_by_hash(folder: Path) -> None:
    data = (folder / MODEL_FILE).read_bytes()
    (folder / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors does not match the hash recorded in"
    ):
        load_checkpoint(folder)


def test_truncated_model_without_state(folder: Path) -> None:
    (folder / STATE_FILE).unlink()
    data = (folder / MODEL_FILE).read_bytes()
    (folder / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupt"):
        load_checkpoint(folder)


def test_flipped_byte_in_model(folder: Path) -> None:
    data = bytearray((folder / MODEL_FILE).read_bytes())
    data[-3] ^= 0x01  # inside the last tensor's data: still a valid safetensors file
    (folder / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match the hash"):
        load_checkpoint(folder)


def test_truncated_optimizer_state(folder: Path) -> None:
    data = (folder / OPTIMIZER_FILE).read_bytes()
    (folder / OPTIMIZER_FILE).write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors does not match the hash"):
        load_checkpoint(folder)
    rewrite(folder, OPTIMIZER_FILE, data[:-10])
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors is corrupt"):
        load_checkpoint(folder)


def test_corrupt_train_state(folder: Path) -> None:
    (folder / STATE_FILE).write_text('{"step": 3,')
    with pytest.raises(CheckpointError, match=r"train_state\.json is corrupt"):
        load_checkpoint(folder)
    (folder / STATE_FILE).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match=r"train_state\.json is corrupt: expected a JSON"):
        load_checkpoint(folder)


def test_train_state_with_a_bad_files_field(folder: Path) -> None:
    (folder / STATE_FILE).write_text(json.dumps({**TRAIN_STATE, "files": ["config.json"]}))
    with pytest.raises(CheckpointError, match=r"train_state\.json is corrupt: its 'files' field"):
        load_checkpoint(folder)


def test_edited_config_detected_by_hash(folder: Path) -> None:
    (folder / CONFIG_FILE).write_text((folder / CONFIG_FILE).read_text().replace("16", "32"))
    with pytest.raises(CheckpointError, match=r"config\.json does not match the hash"):
        load_checkpoint(folder)


def test_config_not_json(folder: Path) -> None:
    rewrite(folder, CONFIG_FILE, b'{"vocab_size": 12,')
    with pytest.raises(CheckpointError, match=r"config\.json is corrupt"):
        load_checkpoint(folder)


def test_config_unknown_field(folder: Path) -> None:
    edit_config(folder, colour="red")
    with pytest.raises(
        CheckpointError, match=r"config\.json: unknown GPTConfig fields \['colour'\]"
    ):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"num_heads": 3}, "embed_dim=16 is not divisible by num_heads=3"),
        ({"norm": "batchnorm"}, "GPTConfig.norm must be one of"),
        ({"vocab_size": "12"}, "GPTConfig.vocab_size must be a positive int"),
    ],
    ids=["heads", "norm", "vocab-string"],
)
def test_config_invalid_value(folder: Path, changes: dict[str, Any], detail: str) -> None:
    edit_config(folder, **changes)
    with pytest.raises(CheckpointError, match=rf"config\.json: .*{detail}"):
        load_checkpoint(folder)


def test_config_that_does_not_fit_the_tensors(folder: Path) -> None:
    edit_config(folder, embed_dim=32)
    with pytest.raises(
        CheckpointError,
        match=r"model\.safetensors does not fit its config: wte\.weight: expected shape "
        r"\(vocab=14, embed=32\), got \(14, 16\)",
    ):
        load_checkpoint(folder)


def test_config_with_more_layers_than_the_tensors(folder: Path) -> None:
    edit_config(folder, num_layers=2)
    with pytest.raises(CheckpointError, match=r"does not fit its config: .*h\.1\.attn\.c_attn"):
        load_checkpoint(folder)


def test_expect_config_names_the_differing_fields(folder: Path) -> None:
    assert load_checkpoint(folder, expect_config=CONFIG).model.config == CONFIG
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder, expect_config=CONFIG.replace(num_layers=2, mlp_dim=32))
    message = str(info.value)
    assert "num_layers: checkpoint 1, requested 2" in message
    assert "mlp_dim: checkpoint 64, requested 32" in message
    assert "embed_dim" not in message
    assert str(folder) in message


def test_corrupt_tokenizer(folder: Path) -> None:
    rewrite(folder, TOKENIZER_FILE, b'{"kind": ')
    with pytest.raises(CheckpointError, match=r"tokenizer\.json is corrupt"):
        load_checkpoint(folder)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_round_trip(tmp_path: Path, dtype: Any) -> None:
    """A bfloat16 model's checkpoint loads back as bfloat16 (safetensors.numpy cannot read
    bfloat16, and the checkpoint was called corrupt)."""
    config = tg.GPTConfig.microgpt(vocab_size=11)
    model = tg.GPT(config, key=jax.random.key(0))
    narrow = tg.GPT.from_state_dict(
        config, {name: a.astype(dtype) for name, a in model.state_dict().items()}
    )
    tg.save_checkpoint(tmp_path / "ckpt", narrow)
    loaded = tg.load_checkpoint(tmp_path / "ckpt").model
    assert loaded.token_embedding.dtype == dtype
    for name, array in loaded.state_dict().items():
        np.testing.assert_array_equal(array, narrow.state_dict()[name])
