"""Tests for `train`, `TrainConfig`, `batch_loss` and the `typedgpt` command line.

Every call of `train` compiles its step (seconds on a small CPU), so most tests share one
finished run, `run`, and inspect it without writing to it; only the resume, divergence and
command-line tests train again. The data are 300 made-up names built from eight syllables,
so a one-layer model has something to learn.
"""

import contextlib
import dataclasses
import gc
import io
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import typedgpt as tg
import typedgpt._checkpoint as checkpoint_module
import typedgpt._memory as memory_module
from typedgpt import cli
from typedgpt._checkpoint import CheckpointError
from typedgpt._metrics import plot_losses, truncate_metrics
from typedgpt._train import train
from typedgpt._train_config import TrainConfig, TrainingDiverged, TrainResult
from typedgpt._train_step import batch_loss

SYLLABLES = ("ka", "ri", "mo", "lu", "sen", "ta", "vi", "no")
RUN_FILES = (
    "config.json",
    "model.safetensors",
    "optimizer.safetensors",
    "tokenizer.json",
    "train_state.json",
    "metrics.jsonl",
    "loss.png",
)


def make_names(count: int = 300, seed: int = 0) -> str:
    """`count` names of 2 or 3 syllables, one per line, drawn with a seeded Generator."""
    rng = np.random.default_rng(seed)
    names = ["".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 4)))) for _ in range(count)]
    return "\n".join(names) + "\n"


TEXT = make_names()
TOKENIZER = tg.CharTokenizer.from_text(TEXT)
TRAIN_DATA, VAL_DATA = tg.TextDataset.from_text(TEXT, TOKENIZER).split(0.1, seed=0)
MODEL_CONFIG = tg.GPTConfig.microgpt(vocab_size=TOKENIZER.vocab_size)
N = 30  # the resume test stops run B here, half-way
TRAIN_CONFIG = TrainConfig(
    steps=2 * N,
    batch_size=8,
    learning_rate=1e-2,
    warmup_steps=5,
    eval_every=15,
    eval_batches=2,
    checkpoint_every=25,
)


def read_metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def saved_step(out: Path) -> int | None:
    path = out / "train_state.json"
    return int(json.loads(path.read_text())["step"]) if path.exists() else None


def snapshot(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def assert_same_parameters(a: tg.GPT, b: tg.GPT) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


@dataclass(frozen=True)
class Run:
    """A finished run of `TRAIN_CONFIG`, and the step of `train_state.json` after each step."""

    out: Path
    result: TrainResult
    saved_after_step: list[int | None]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("run") / "a"
    saved: list[int | None] = []
    result = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=TRAIN_CONFIG,
        progress=False,
        on_step=lambda step, loss: saved.append(saved_step(out)),
    )
    return Run(out, result, saved)


# A run


def test_loss_falls(run: Run) -> None:
    losses = run.result.losses
    assert len(losses) == 2 * N
    assert all(math.isfinite(loss) for loss in losses)
    # Uniform guessing over the 14 ids costs log(14) = 2.64 nats; the names need far less.
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert first > 2.3
    assert last < first - 0.8
    assert run.result.val_losses[-1][1] < first - 0.8
    assert run.result.step == 2 * N
    assert not run.result.interrupted
    assert run.result.tokens_per_second > 0


def test_validation_loss_every_eval_every(run: Run) -> None:
    assert [step for step, _ in run.result.val_losses] == [15, 30, 45, 60]
    records = read_metrics(run.out)
    assert [r["step"] for r in records] == list(range(1, 2 * N + 1))
    assert [r["loss"] for r in records] == run.result.losses
    assert [(r["step"], r["val_loss"]) for r in records if "val_loss" in r] == (
        run.result.val_losses
    )


def test_validation_loss_is_the_mean_over_every_target(tmp_path: Path) -> None:
    """Lines mode pads each row to the batch's width and masks the padding, so batches hold
    different numbers of targets: the validation loss weighs every target alike (the sum of
    the losses over the number of targets), not every batch."""
    val_data = tg.TextDataset.from_text("ka\n" * 5 + "karimolusenta\n" * 5, TOKENIZER)
    config = TrainConfig(steps=2, batch_size=3, eval_every=2, eval_batches=4, seed=1)
    result = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        val_data,
        tokenizer=TOKENIZER,
        out_dir=tmp_path / "run",
        config=config,
        progress=False,
    )
    # The same batches, drawn as `train` draws them; each position's loss from the logits.
    rng = np.random.default_rng(config.seed + 1)
    batches = [
        val_data.sample_batch(rng, config.batch_size, MODEL_CONFIG.max_seq_len)
        for _ in range(config.eval_batches)
    ]
    counts = [float(batch.mask.sum()) for batch in batches]
    assert len(set(counts)) > 1  # else the two means agree and this test shows nothing
    sums = []
    for batch in batches:
        logits = np.asarray(jax.vmap(result.model.forward)(jnp.asarray(batch.inputs)), np.float64)
        top = logits.max(axis=-1, keepdims=True)
        log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
        targets, mask = np.asarray(batch.targets), np.asarray(batch.mask)
        picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
        sums.append(float(-(picked * mask).sum()))
    per_target = sum(sums) / sum(counts)
    mean_of_batch_means = float(np.mean([s / c for s, c in zip(sums, counts, strict=True)]))
    assert abs(per_target - mean_of_batch_means) > 1e-2
    [(step, val_loss)] = result.val_losses
    assert step == 2 and val_loss == pytest.approx(per_target, rel=1e-5)


def test_metrics_record_the_schedule(run: Run) -> None:
    schedule = TRAIN_CONFIG.schedule()
    lrs = [r["lr"] for r in read_metrics(run.out)]
    assert lrs[0] == 0.0  # step 1 runs at schedule(0), the start of the warmup
    assert lrs == pytest.approx([float(schedule(step)) for step in range(2 * N)], rel=1e-6)


def test_checkpoints_at_checkpoint_every_and_at_the_end(run: Run) -> None:
    # Calls of at most steps_per_call=10 steps end at each evaluation (every 15) and
    # checkpoint (every 25): 1-10, 11-15, 16-25, 26-30, 31-40, 41-45, 46-50, 51-60. on_step
    # runs for each step of a call once the call's checkpoint, if any, is written.
    assert TRAIN_CONFIG.steps_per_call == 10
    assert run.saved_after_step == [None] * 15 + [25] * 30 + [50] * 5 + [60] * 10
    assert sorted(p.name for p in run.out.iterdir()) == sorted(RUN_FILES)
    assert (run.out / "loss.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    checkpoint = tg.load_checkpoint(run.out, expect_config=MODEL_CONFIG)
    assert_same_parameters(checkpoint.model, run.result.model)
    assert checkpoint.tokenizer_json == TOKENIZER.to_json()
    state = checkpoint.train_state
    assert state is not None
    assert state["step"] == 2 * N
    assert state["seed"] == TRAIN_CONFIG.seed
    assert state["train_config"] == dataclasses.asdict(TRAIN_CONFIG)
    assert set(state["files"]) == {
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "tokenizer.json",
    }


def test_saved_optimizer_state_has_the_optimizer_shapes(run: Run) -> None:
    checkpoint = tg.load_checkpoint(run.out)
    assert checkpoint.optimizer_arrays is not None
    fresh = TRAIN_CONFIG.optimizer().init(jax.tree.leaves(run.result.model))
    expected = jax.tree.leaves(fresh)
    assert len(checkpoint.optimizer_arrays) == len(expected)
    for saved, template in zip(checkpoint.optimizer_arrays, expected, strict=True):
        assert saved.shape == template.shape
        assert saved.dtype == template.dtype


def test_progress_bar_shows_the_numbers_of_the_steps_it_counts() -> None:
    """The bar is drawn as it advances: the postfix set after `update` showed the previous
    call's loss, and none at all after the first call."""
    from tqdm.auto import tqdm

    from typedgpt._train import _show_progress

    shown = io.StringIO()
    bar = tqdm(total=4, file=shown, mininterval=0, miniters=1)
    _show_progress(bar, [{"step": 1, "loss": 1.5, "tokens_per_s": 10.0}])
    drawn = shown.getvalue().rsplit("\r", 1)[-1]
    assert " 1/4 " in drawn and drawn.endswith(", loss=1.500, tok/s=10]")
    _show_progress(bar, [{"step": 2, "loss": 0.5, "tokens_per_s": 2e4, "val_loss": 0.25}])
    drawn = shown.getvalue().rsplit("\r", 1)[-1]
    assert " 2/4 " in drawn and drawn.endswith(", loss=0.500, tok/s=20,000, val=0.250]")
    bar.close()


def test_steps_per_call_above_steps_calls_only_the_runs_steps(tmp_path: Path) -> None:
    """A call's batches were padded to steps_per_call however few steps the run had: here
    they would need hundreds of terabytes."""
    result = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        None,
        tokenizer=TOKENIZER,
        out_dir=tmp_path / "run",
        config=TrainConfig(steps=2, batch_size=4, steps_per_call=10**12),
        progress=False,
    )
    assert (result.step, len(result.losses)) == (2, 2)


# Resume


def test_interrupt_then_resume_continues_exactly(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "b"
    config = dataclasses.replace(TRAIN_CONFIG, checkpoint_every=1000)  # saves only on Ctrl-C

    def interrupt(step: int, loss: float) -> None:
        if step == N:
            raise KeyboardInterrupt

    first = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=config,
        progress=False,
        on_step=interrupt,
    )
    assert first.interrupted
    assert first.step == N
    assert saved_step(out) == N
    assert (out / "loss.png").exists()

    second = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=config,
        resume=True,
        progress=False,
    )
    assert not second.interrupted
    assert second.step == 2 * N
    np.testing.assert_array_equal(first.losses + second.losses, run.result.losses)
    assert first.val_losses + second.val_losses == run.result.val_losses
    assert_same_parameters(second.model, run.result.model)
    records = read_metrics(out)
    assert [r["step"] for r in records] == list(range(1, 2 * N + 1))
    assert [r["loss"] for r in records] == run.result.losses
    ours, theirs = tg.load_checkpoint(out), tg.load_checkpoint(run.out)
    assert ours.optimizer_arrays is not None
    assert theirs.optimizer_arrays is not None
    for a, b in zip(ours.optimizer_arrays, theirs.optimizer_arrays, strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_interrupt_inside_a_call_then_resume_continues_exactly(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C while the third call (steps 16-25) draws its batches: the checkpoint is of
    # step 15, so its data position must be the one before those batches were drawn.
    out = tmp_path / "b"
    sample_batch = tg.TextDataset.sample_batch
    drawn = 0

    def interrupt_on_the_18th_batch(self: tg.TextDataset, *args: Any, **kwargs: Any) -> Any:
        nonlocal drawn
        if self is TRAIN_DATA:
            drawn += 1
            if drawn == 18:
                raise KeyboardInterrupt
        return sample_batch(self, *args, **kwargs)

    monkeypatch.setattr(tg.TextDataset, "sample_batch", interrupt_on_the_18th_batch)
    first = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=TRAIN_CONFIG,
        progress=False,
    )
    monkeypatch.undo()
    assert first.interrupted
    assert first.step == 15
    assert saved_step(out) == 15

    second = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=TRAIN_CONFIG,
        resume=True,
        progress=False,
    )
    np.testing.assert_array_equal(first.losses + second.losses, run.result.losses)
    assert first.val_losses + second.val_losses == run.result.val_losses
    assert_same_parameters(second.model, run.result.model)
    assert [r["loss"] for r in read_metrics(out)] == run.result.losses


def test_a_crash_while_saving_keeps_the_last_checkpoint_to_resume(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process dies in the second checkpoint (step 50), after the new model is written and
    # in the middle of appending to metrics.jsonl: the step-25 checkpoint must survive whole,
    # and resuming from it must go on as the uninterrupted run did.
    out = tmp_path / "b"
    write = checkpoint_module.atomic_write
    states_written = 0

    def crash_in_the_second_save(path: Path, data: bytes) -> None:
        nonlocal states_written
        if path.name == "train_state.json":
            states_written += 1
            if states_written == 2:
                raise OSError("power cut")
        write(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write", crash_in_the_second_save)
    with pytest.raises(OSError, match="power cut"):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            VAL_DATA,
            tokenizer=TOKENIZER,
            out_dir=out,
            config=TRAIN_CONFIG,
            progress=False,
        )
    monkeypatch.undo()
    with (out / "metrics.jsonl").open("a") as metrics:
        metrics.write('{"step": 51, "loss": 1.2')
    assert saved_step(out) == 25
    tg.load_checkpoint(out, expect_config=MODEL_CONFIG)

    resumed = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=TRAIN_CONFIG,
        resume=True,
        progress=False,
    )
    np.testing.assert_array_equal(resumed.losses, run.result.losses[25:])
    assert_same_parameters(resumed.model, run.result.model)
    records = read_metrics(out)
    assert [r["step"] for r in records] == list(range(1, 2 * N + 1))
    assert [r["loss"] for r in records] == run.result.losses


def test_training_into_an_existing_run_needs_resume(run: Run) -> None:
    before = snapshot(run.out)
    with pytest.raises(FileExistsError, match=r"already holds a training run: pass resume=True"):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=run.out,
            config=TRAIN_CONFIG,
            progress=False,
        )
    assert snapshot(run.out) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_config": {"num_layers": 1}}, "model_config must be a tg.GPTConfig, got dict"),
        ({"tokenizer": None}, "tokenizer must be a tg.Tokenizer (CharTokenizer, ByteTokenizer"),
        ({"out_dir": 3}, "out_dir must be a folder path (str or pathlib.Path), got int"),
        ({"config": {"steps": 3}}, "config must be a tg.TrainConfig, got dict"),
        ({"resume": "no"}, "resume must be True or False, got str"),
        ({"progress": None}, "progress must be True or False, got NoneType"),
        ({"on_step": "print"}, "on_step must be None or a function called as on_step(step, "),
    ],
)
def test_arguments_of_the_wrong_kind_are_refused_before_any_work(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    # `on_step="print"` failed only after the first call had written a checkpoint, so that
    # the corrected call then found a run in the folder.
    arguments: dict[str, Any] = {
        "model_config": MODEL_CONFIG,
        "train_data": TRAIN_DATA,
        "val_data": None,
        "tokenizer": TOKENIZER,
        "out_dir": tmp_path / "run",
        "config": TRAIN_CONFIG,
        **change,
    }
    with pytest.raises(TypeError, match=re.escape(message)):
        train(**arguments)
    assert list(tmp_path.iterdir()) == []


def test_training_into_a_folder_of_other_files_refuses_to_overwrite_them(
    tmp_path: Path,
) -> None:
    # A Hugging Face folder holds config.json and model.safetensors, a checkpoint's names.
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    (tmp_path / "model.safetensors").write_bytes(b"weights of another model")
    before = snapshot(tmp_path)
    with pytest.raises(
        FileExistsError,
        match=rf"{re.escape(str(tmp_path))} holds config.json, model.safetensors but no "
        "training run: training would overwrite them; choose another folder",
    ):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=tmp_path,
            config=TRAIN_CONFIG,
            progress=False,
        )
    assert snapshot(tmp_path) == before


def test_resume_with_another_model_config(run: Run) -> None:
    before = snapshot(run.out)
    with pytest.raises(CheckpointError, match=r"num_heads: checkpoint 4, requested 2"):
        train(
            MODEL_CONFIG.replace(num_heads=2),
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=run.out,
            config=dataclasses.replace(TRAIN_CONFIG, steps=100),
            resume=True,
            progress=False,
        )
    assert snapshot(run.out) == before


def test_resume_with_another_tokenizer(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run.out, out)
    # As many ids as the run's tokenizer, but other characters: the ids would mean other text.
    other = tg.CharTokenizer("".join(chr(ord("A") + i) for i in range(len(TOKENIZER.chars))))
    assert other.vocab_size == TOKENIZER.vocab_size
    text = "\n".join(other.chars[i : i + 4] for i in range(len(other.chars) - 3))
    data = tg.TextDataset.from_text(text, other)
    with pytest.raises(ValueError, match="tokenizer"):
        train(
            MODEL_CONFIG,
            data,
            None,
            tokenizer=other,
            out_dir=out,
            config=dataclasses.replace(TRAIN_CONFIG, steps=2 * N + 1),
            resume=True,
            progress=False,
        )


def test_resume_when_already_at_the_final_step(run: Run) -> None:
    before = snapshot(run.out)
    with pytest.raises(
        ValueError,
        match=r"already at step 60, so steps=60 leaves nothing to train: "
        r"set steps above 60 to resume$",
    ):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=run.out,
            config=TRAIN_CONFIG,
            resume=True,
            progress=False,
        )
    assert snapshot(run.out) == before


def test_resume_with_other_training_settings(run: Run) -> None:
    before = snapshot(run.out)
    changed = dataclasses.replace(
        TRAIN_CONFIG, steps=100, batch_size=7, learning_rate=0.5, seed=3, eval_every=7
    )
    with pytest.raises(ValueError) as info:
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=run.out,
            config=changed,
            resume=True,
            progress=False,
        )
    message = str(info.value)
    assert message.startswith(f"{run.out} was trained with other settings (")
    assert "batch_size: recorded 8, given 7; learning_rate: recorded 0.01, given 0.5" in message
    assert "seed: recorded 0, given 3)" in message
    assert "steps:" not in message and "eval_every:" not in message  # these may change
    assert "resume with the recorded values" in message
    assert "or start a new run in another folder" in message
    assert snapshot(run.out) == before


@pytest.mark.parametrize(("recorded", "given"), [(None, 16), (16, None), (None, None)])
def test_resume_reads_seq_len_none_as_the_models_context(recorded: Any, given: Any) -> None:
    """`seq_len=None` trains on `max_seq_len` positions: the same setting as `seq_len=16`
    for a model of 16 positions (a resume with the number spelled out was refused)."""
    from typedgpt._resume import check_same_settings, jsonable

    state = {"train_config": jsonable(TrainConfig(seq_len=recorded))}
    check_same_settings(Path("run"), state, TrainConfig(seq_len=given), {}, 16)
    with pytest.raises(ValueError, match=r"\(seq_len: recorded (None|16), given 8\)"):
        check_same_settings(Path("run"), state, TrainConfig(seq_len=8), {}, 16)


def test_resume_with_other_training_data(run: Run) -> None:
    fewer = tg.TextDataset(TOKENIZER, "lines", TRAIN_DATA.documents[:-1])
    with pytest.raises(
        ValueError,
        match=rf"train_data: recorded {len(TRAIN_DATA)} documents \(lines mode\) of "
        rf"{TRAIN_DATA.num_tokens} tokens, sha256 [0-9a-f]{{12}}, given {len(fewer)} documents",
    ):
        train(
            MODEL_CONFIG,
            fewer,
            None,
            tokenizer=TOKENIZER,
            out_dir=run.out,
            config=dataclasses.replace(TRAIN_CONFIG, steps=100),
            resume=True,
            progress=False,
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"data_rng": None}, r"train_state\.json has no 'data_rng' field: it is incomplete"),
        ({"step": None}, r"train_state\.json has no 'step' field: it is incomplete"),
        ({"step": "25"}, r"train_state\.json: 'step' must be a step number, got '25'"),
        ({"data_rng": {"bit_generator": "MT19937"}}, r"'data_rng' is not a NumPy PCG64 state"),
    ],
    ids=["no-data-rng", "no-step", "step-string", "bad-data-rng"],
)
def test_resume_with_an_incomplete_train_state(
    run: Run, tmp_path: Path, edit: dict[str, Any], message: str
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run.out, out)
    state = json.loads((out / "train_state.json").read_text())
    for name, value in edit.items():
        if value is None:
            del state[name]
        else:
            state[name] = value
    (out / "train_state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=message + r".*restore the file, or start a new"):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=out,
            config=dataclasses.replace(TRAIN_CONFIG, steps=100),
            resume=True,
            progress=False,
        )


@pytest.mark.parametrize("exists", [True, False], ids=["empty", "missing"])
def test_resume_without_a_checkpoint(tmp_path: Path, exists: bool) -> None:
    out = tmp_path / "run"
    if exists:
        out.mkdir()
    message = r"has no config\.json" if exists else r"run does not exist"
    with pytest.raises(CheckpointError, match=message):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=out,
            config=TRAIN_CONFIG,
            resume=True,
            progress=False,
        )
    assert out.exists() == exists


# Divergence


DIVERGING = TrainConfig(
    steps=20, batch_size=8, learning_rate=1e30, decay="constant", grad_clip=None
)


def test_divergence_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=out,
            config=dataclasses.replace(DIVERGING, checkpoint_every=1),
            progress=False,
        )
    good = [r["step"] for r in read_metrics(out)]
    assert good == list(range(1, len(good) + 1))
    assert len(good) >= 1
    bad = len(good) + 1
    assert f"at step {bad}: lower learning_rate (it is 1e+30) or set grad_clip (it is None); " in (
        str(info.value)
    )
    assert f"the checkpoint of step {bad - 1} in {out} is kept" in str(info.value)
    checkpoint = tg.load_checkpoint(out, expect_config=MODEL_CONFIG)
    assert checkpoint.train_state is not None
    assert checkpoint.train_state["step"] == bad - 1
    for name, array in checkpoint.model.state_dict().items():
        assert np.isfinite(array).all(), name


def test_divergence_before_the_first_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=out,
            config=dataclasses.replace(DIVERGING, grad_clip=1.0),
            progress=False,
        )
    message = str(info.value)
    assert "lower learning_rate (it is 1e+30) or grad_clip (it is 1.0); " in message
    assert "set grad_clip" not in message
    assert message.endswith(
        f"no checkpoint was saved before it (the first was due at step 20), so {out} holds "
        "only metrics"
    )
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl"]


def test_a_fresh_run_starts_fresh_metrics(tmp_path: Path) -> None:
    # What a run that diverged before its first checkpoint leaves: metrics, no checkpoint.
    out = tmp_path / "run"
    out.mkdir()
    stale = [{"step": s, "loss": 9.0, "lr": 1.0, "tokens_per_s": 1.0} for s in (1, 2, 3)]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stale))
    result = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        None,
        tokenizer=TOKENIZER,
        out_dir=out,
        config=TrainConfig(steps=2, batch_size=4, checkpoint_every=1000),
        progress=False,
    )
    records = read_metrics(out)
    assert [r["step"] for r in records] == [1, 2]
    assert [r["loss"] for r in records] == result.losses


def write_metrics(path: Path, steps: list[int], tail: str = "") -> list[str]:
    lines = [json.dumps({"step": s, "loss": 3.0 - s / 10, "lr": 0.1}) for s in steps]
    path.write_text("".join(line + "\n" for line in lines) + tail)
    return lines


def test_resume_drops_a_record_cut_short_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = write_metrics(path, [1, 2, 3, 4], tail='{"step": 5, "lo')
    truncate_metrics(path, 3)
    assert path.read_text() == "".join(line + "\n" for line in lines[:3])
    write_metrics(path, [1, 2], tail='{"step": 3, "lo')
    truncate_metrics(path, 2)
    assert path.read_text() == "".join(line + "\n" for line in lines[:2])
    # A crash can cut a line after the write of its newline began: "{"step": 3, "lo\n".
    write_metrics(path, [1, 2], tail='{"step": 3, "lo\n')
    truncate_metrics(path, 2)
    assert path.read_text() == "".join(line + "\n" for line in lines[:2])


def test_plot_losses_drops_a_record_cut_short_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    write_metrics(path, [1, 2, 3], tail='{"step": 4, "loss": 1.')
    plot_losses(path, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_a_corrupt_metrics_line_before_the_last_is_named(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = write_metrics(path, [1, 2, 3])
    path.write_text(f"{lines[0]}\n{{garbage\n{lines[2]}\n")
    message = rf"{re.escape(str(path))}, line 2, is not a metrics record \('\{{garbage'\): delete"
    with pytest.raises(ValueError, match=message):
        truncate_metrics(path, 2)
    with pytest.raises(ValueError, match=message):
        plot_losses(path, tmp_path / "loss.png")


# Bad arguments


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "TrainConfig.steps must be a positive int, got 0"),
        ({"steps": True}, "TrainConfig.steps must be a positive int, got True"),
        ({"batch_size": -1}, "TrainConfig.batch_size must be a positive int, got -1"),
        ({"eval_every": 0}, "TrainConfig.eval_every must be a positive int, got 0"),
        ({"eval_batches": 0}, "TrainConfig.eval_batches must be a positive int, got 0"),
        ({"checkpoint_every": 0}, "TrainConfig.checkpoint_every must be a positive int, got 0"),
        ({"seq_len": 0}, "TrainConfig.seq_len must be a positive int, got 0"),
        (
            {"steps": 10, "warmup_steps": 11},
            "TrainConfig.warmup_steps must be between 0 and steps=10, got 11",
        ),
        ({"warmup_steps": -1}, "TrainConfig.warmup_steps must be between 0 and steps=1000"),
        ({"learning_rate": 0.0}, "TrainConfig.learning_rate must be a finite number > 0, got 0.0"),
        (
            {"learning_rate": math.nan},
            "TrainConfig.learning_rate must be a finite number > 0, got nan",
        ),
        (
            {"learning_rate": math.inf},
            "TrainConfig.learning_rate must be a finite number > 0, got inf",
        ),
        ({"learning_rate": "0.1"}, "TrainConfig.learning_rate must be a number, got '0.1'"),
        ({"decay": "exponential"}, "TrainConfig.decay must be cosine, linear or constant"),
        ({"final_lr_fraction": 2.0}, "TrainConfig.final_lr_fraction must be in [0, 1], got 2.0"),
        ({"beta1": 1.0}, "TrainConfig.beta1 and beta2 must be in [0, 1)"),
        ({"beta2": -0.1}, "TrainConfig.beta1 and beta2 must be in [0, 1)"),
        ({"eps": 0.0}, "and eps a finite number > 0, got beta1=0.9, beta2=0.99, eps=0.0"),
        ({"eps": math.inf}, "and eps a finite number > 0, got beta1=0.9, beta2=0.99, eps=inf"),
        ({"weight_decay": -0.1}, "TrainConfig.weight_decay must be a finite number >= 0, got -0.1"),
        (
            {"weight_decay": math.nan},
            "TrainConfig.weight_decay must be a finite number >= 0, got nan",
        ),
        (
            {"weight_decay": math.inf},
            "TrainConfig.weight_decay must be a finite number >= 0, got inf",
        ),
        (
            {"grad_clip": 0.0},
            "TrainConfig.grad_clip must be a finite number > 0, or None for no clipping, got 0.0",
        ),
        (
            {"grad_clip": math.inf},
            "TrainConfig.grad_clip must be a finite number > 0, or None for no clipping, got inf",
        ),
        (
            {"seed": -1},
            f"TrainConfig.seed must be an int from 0 to 2**32 - 1 = {2**32 - 1}, got -1",
        ),
        (
            {"seed": 1.5},
            "TrainConfig.seed must be an int from 0 to 2**32 - 1 = 4294967295, got 1.5",
        ),
        (
            {"seed": 2**32},
            "TrainConfig.seed must be an int from 0 to 2**32 - 1 = 4294967295, got 4294967296",
        ),
        (
            {"seed": 2**64},
            f"TrainConfig.seed must be an int from 0 to 2**32 - 1 = 4294967295, got {2**64}",
        ),
        (
            {"seed": True},
            "TrainConfig.seed must be an int from 0 to 2**32 - 1 = 4294967295, got True",
        ),
    ],
)
def test_train_config_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**changes)


@pytest.mark.parametrize("name", ["seq_len", "warmup_steps"])
def test_train_config_rejects_a_bool_size(name: str) -> None:
    changes: dict[str, Any] = {name: True}
    with pytest.raises(ValueError, match=rf"TrainConfig\.{name} must be .*, got True"):
        TrainConfig(**changes)


def test_train_config_takes_numpy_numbers_as_python_numbers() -> None:
    numbers: dict[str, Any] = {
        "steps": np.int64(20),
        "learning_rate": np.float32(0.5),
        "grad_clip": np.float64(2.0),
    }
    config = TrainConfig(**numbers)
    assert (config.steps, config.learning_rate, config.grad_clip) == (20, 0.5, 2.0)
    assert type(config.steps) is int and type(config.learning_rate) is float
    json.dumps(dataclasses.asdict(config))  # as train_state.json records it


def test_train_config_accepts_every_seed_the_generators_take() -> None:
    for seed in (0, 2**32 - 1):
        config = TrainConfig(seed=seed)
        jax.random.key(config.seed)
        np.random.default_rng(config.seed + 1)  # the validation batches' generator


@pytest.mark.parametrize(
    ("decay", "expected"),
    [
        # warmup: 0, 0.25, 0.5, 0.75 at steps 0..3; peak 1 at 4; then 6 steps of decay to 0.1
        ("linear", [0.0, 0.25, 0.5, 0.75, 1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1]),
        (
            "cosine",
            [0.0, 0.25, 0.5, 0.75, 1.0]
            + [0.1 + 0.45 * (1 + math.cos(math.pi * k / 6)) for k in range(1, 7)],
        ),
        ("constant", [0.0, 0.25, 0.5, 0.75] + [1.0] * 7),
    ],
)
def test_schedule(decay: Any, expected: list[float]) -> None:
    config = TrainConfig(
        steps=10, warmup_steps=4, learning_rate=2.0, decay=decay, final_lr_fraction=0.1
    )
    schedule = config.schedule()
    got = [float(schedule(step)) for step in range(11)]
    np.testing.assert_allclose(got, [2.0 * lr for lr in expected], rtol=1e-6, atol=1e-7)


def test_schedule_without_warmup_starts_at_the_peak() -> None:
    config = TrainConfig(steps=4, learning_rate=0.5, decay="linear", final_lr_fraction=0.0)
    schedule = config.schedule()
    got = [float(schedule(step)) for step in range(5)]
    np.testing.assert_allclose(got, [0.5, 0.375, 0.25, 0.125, 0.0], rtol=1e-6, atol=1e-7)


def test_seq_len_longer_than_the_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"seq_len=17 is longer than max_seq_len=16"):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=tmp_path / "run",
            config=TrainConfig(seq_len=17),
            progress=False,
        )
    assert not (tmp_path / "run").exists()


def test_tokenizer_larger_than_the_vocabulary(tmp_path: Path) -> None:
    tokenizer = tg.ByteTokenizer()
    data = tg.TextDataset.from_text(TEXT, tokenizer)
    with pytest.raises(ValueError, match=r"the tokenizer has 257 ids but vocab_size is 14"):
        train(
            MODEL_CONFIG,
            data,
            None,
            tokenizer=tokenizer,
            out_dir=tmp_path / "run",
            progress=False,
        )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("which", ["train_data", "val_data"])
def test_data_encoded_by_another_tokenizer(tmp_path: Path, which: str) -> None:
    # As many ids as TOKENIZER, but other characters: the ids would be decoded as other text.
    other = tg.CharTokenizer("".join(chr(ord("A") + i) for i in range(len(TOKENIZER.chars))))
    assert other.vocab_size == TOKENIZER.vocab_size
    text = "\n".join(other.chars[i : i + 4] for i in range(len(other.chars) - 3))
    other_data = tg.TextDataset.from_text(text, other)
    data = {"train_data": TRAIN_DATA, "val_data": VAL_DATA, which: other_data}
    with pytest.raises(
        ValueError,
        match=rf"{which} was encoded by a different tokenizer than tokenizer= \(CharTokenizer "
        rf"of 14 ids, tokenizer= CharTokenizer of 14 ids\): .* pass tokenizer={which}"
        r"\.tokenizer, or encode the text with this tokenizer",
    ):
        train(
            MODEL_CONFIG,
            data["train_data"],
            data["val_data"],
            tokenizer=TOKENIZER,
            out_dir=tmp_path / "run",
            progress=False,
        )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad", [20, -1])
def test_data_with_ids_outside_the_vocabulary(tmp_path: Path, bad: int) -> None:
    # TextDataset refuses such ids when it is built, but it keeps the arrays it was given,
    # which can still be written to: train checks the ids again.
    bos = TOKENIZER.bos_id
    with pytest.raises(ValueError, match=rf"documents\[0\] holds the token id {bad} at position 2"):
        tg.TextDataset(TOKENIZER, "lines", (np.array([bos, 3, bad, bos], dtype=np.int32),))
    doc = np.array([bos, 3, 4, bos], dtype=np.int32)
    data = tg.TextDataset(TOKENIZER, "lines", (doc,))
    doc[2] = bad
    with pytest.raises(
        ValueError,
        match=rf"train_data holds the token id {bad} but the model's ids are 0 to 13 "
        r"\(vocab_size=14\): encode the text with the tokenizer",
    ):
        train(
            MODEL_CONFIG, data, None, tokenizer=TOKENIZER, out_dir=tmp_path / "run", progress=False
        )
    assert not (tmp_path / "run").exists()


def test_data_that_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"train_data must be a TextDataset .*, got list"):
        train(
            MODEL_CONFIG,
            [[1, 2, 3]],  # type: ignore[arg-type]
            None,
            tokenizer=TOKENIZER,
            out_dir=tmp_path / "run",
            progress=False,
        )


def train_two_steps(data: dict[str, tg.TextDataset], out_dir: Path) -> None:
    train(
        MODEL_CONFIG,
        data["train_data"],
        data["val_data"],
        tokenizer=TOKENIZER,
        out_dir=out_dir,
        config=TrainConfig(steps=2, batch_size=2, eval_batches=1),
        progress=False,
    )


@pytest.mark.parametrize("which", ["train_data", "val_data"])
def test_a_stream_shorter_than_a_batch_row(tmp_path: Path, which: str) -> None:
    short = tg.TextDataset.from_text("karimo", TOKENIZER, mode="stream")  # 6 tokens < 16 + 1
    data = {"train_data": TRAIN_DATA, "val_data": VAL_DATA, which: short}
    with pytest.raises(
        ValueError,
        match=rf"{which} is a stream of 6 tokens but a batch row needs seq_len \+ 1 = 17 "
        r"\(seq_len is the model's max_seq_len\): set TrainConfig\.seq_len to at most 5, "
        "or use more text",
    ):
        train_two_steps(data, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("which", ["train_data", "val_data"])
def test_data_with_no_targets(tmp_path: Path, which: str) -> None:
    bos = np.array([TOKENIZER.bos_id], dtype=np.int32)  # a document with nothing to predict
    empty = tg.TextDataset(TOKENIZER, "lines", (bos, bos))
    data = {"train_data": TRAIN_DATA, "val_data": VAL_DATA, which: empty}
    with pytest.raises(
        ValueError,
        match=rf"{which} has no next-token targets: each of its 2 documents is a single token",
    ):
        train_two_steps(data, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("not a folder")
    for out_dir, where in (
        (path, "is a file"),
        (path / "sub", f"lies inside {path}, which is a file"),
    ):
        with pytest.raises(
            NotADirectoryError,
            match=re.escape(f"out_dir {out_dir} {where}, not a folder: name a folder for the"),
        ):
            train(
                MODEL_CONFIG,
                TRAIN_DATA,
                None,
                tokenizer=TOKENIZER,
                out_dir=out_dir,
                config=TrainConfig(steps=2, batch_size=2),
                progress=False,
            )
    assert path.read_text() == "not a folder"


# Memory


def test_count_parameters_of_gpt2_without_building_it() -> None:
    """GPT-2 small has 124,439,808 parameters (the lm_head is tied to the embedding)."""
    model = memory_module.abstract_model(tg.GPTConfig.gpt2())
    assert all(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(model))
    assert memory_module.count_parameters(model) == 124_439_808


def test_count_parameters_of_microgpt() -> None:
    """vocab 14, embed 16, 16 positions, mlp 64, no biases, no norm gains, an untied head:
    token and position embeddings 14*16 + 16*16, the head 14*16, attention 4*16*16, the
    MLP 2*16*64."""
    expected = 14 * 16 + 16 * 16 + 14 * 16 + 4 * 16 * 16 + 2 * 16 * 64
    assert memory_module.count_parameters(memory_module.abstract_model(MODEL_CONFIG)) == expected
    assert expected == 3776


def available(size: int | None, where: str = "memory") -> Callable[[], tuple[int, str] | None]:
    return lambda: None if size is None else (size, where)


def test_training_that_needs_more_memory_than_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,776 float32 parameters, 6 copies: 90,624 bytes. Activations, 8 rows of 16 positions
    of 1 layer: (8*16 + 2*64) * 4 bytes + 2*4*16 float32 scores = 1,536 bytes a position,
    196,608 in all. The parameters alone do not fit in 50 kB: a smaller batch cannot help."""
    monkeypatch.setattr(memory_module, "_available_memory", available(50_000))
    out = tmp_path / "run"
    with pytest.raises(ValueError) as info:
        train(MODEL_CONFIG, TRAIN_DATA, VAL_DATA, tokenizer=TOKENIZER, out_dir=out,
              config=TRAIN_CONFIG, progress=False)  # fmt: skip
    assert str(info.value) == (
        "the model has 3,776 parameters: training needs about 287 kB (91 kB for the float32 "
        "parameters and AdamW's two moments, before and after a step, and an estimated 197 kB of "
        "activations for batch_size=8 rows of seq_len=16 tokens) but 50 kB of memory is "
        "available: choose a smaller model: lower embed_dim or num_layers"
    )
    assert not out.exists()
    # With room for the parameters, the batch is what to lower; on an accelerator, its memory.
    monkeypatch.setattr(memory_module, "_available_memory", available(100_000, "GPU memory"))
    with pytest.raises(ValueError) as info:
        memory_module.check_memory(MODEL_CONFIG, TRAIN_CONFIG)
    assert str(info.value).endswith(
        "but 100 kB of GPU memory is available: lower batch_size or seq_len, or embed_dim or "
        "num_layers"
    )
    monkeypatch.setattr(memory_module, "_available_memory", available(287_232))
    memory_module.check_memory(MODEL_CONFIG, TRAIN_CONFIG)  # exactly enough
    # The activations are an estimate, within about 20%: refused only when 80% of it does
    # not fit with the parameters' copies, 90,624 + 0.8 * 196,608 = 247,910.4 bytes.
    monkeypatch.setattr(memory_module, "_available_memory", available(247_911))
    memory_module.check_memory(MODEL_CONFIG, TRAIN_CONFIG)
    monkeypatch.setattr(memory_module, "_available_memory", available(247_910))
    with pytest.raises(ValueError, match=r"but 248 kB of memory is available"):
        memory_module.check_memory(MODEL_CONFIG, TRAIN_CONFIG)


def test_memory_check_refuses_more_batches_than_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped eval_batches drew batches one by one for minutes, then ran out of memory:
    10**8 batches of 8 rows of 16 positions, 12 bytes a position, are refused at once. Without
    validation data the eval batches are not drawn, so not counted."""
    monkeypatch.setattr(memory_module, "_available_memory", available(10**9))  # 999.9 MB left
    config = dataclasses.replace(TRAIN_CONFIG, eval_batches=10**8)
    out = tmp_path / "run"
    with pytest.raises(ValueError) as info:
        train(MODEL_CONFIG, TRAIN_DATA, VAL_DATA, tokenizer=TOKENIZER, out_dir=out,
              config=config, progress=False)  # fmt: skip
    held = (10**8 + TRAIN_CONFIG.steps_per_call) * 8 * 16 * 12
    assert str(info.value) == (
        f"training would hold {10**8 + TRAIN_CONFIG.steps_per_call:,} batches of batch_size=8 "
        f"rows of seq_len=16 tokens at once (100,000,000 for validation, eval_batches, and "
        f"{TRAIN_CONFIG.steps_per_call} for one compiled call, steps_per_call), "
        f"{held / 10**9:,.0f} GB, but 1.0 GB of memory is left beside the parameters' copies: "
        "lower eval_batches or steps_per_call"
    )
    assert not out.exists()
    memory_module.check_memory(MODEL_CONFIG, config, validation=False)
    config = dataclasses.replace(TRAIN_CONFIG, steps=10**9, steps_per_call=10**8)
    with pytest.raises(ValueError, match=r"\(0 for validation, eval_batches, and 100,000,000 for"):
        memory_module.check_memory(MODEL_CONFIG, config, validation=False)


def test_memory_check_counts_the_dtype_of_init(monkeypatch: pytest.MonkeyPatch) -> None:
    """bfloat16 parameters take 2 bytes: 3,776 * 2 * 6 = 45,312 bytes."""
    init = jax.tree.map(
        lambda x: x.astype(jnp.bfloat16) if eqx.is_inexact_array(x) else x,
        tg.GPT(MODEL_CONFIG, key=jax.random.key(0)),
    )
    monkeypatch.setattr(memory_module, "_available_memory", available(1_000))
    with pytest.raises(ValueError, match=r"about \S+ kB \(45 kB for the bfloat16 parameters"):
        memory_module.check_memory(MODEL_CONFIG, TRAIN_CONFIG, init=init)


def test_resuming_a_bfloat16_run_counts_its_memory_in_bfloat16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started from a bfloat16 `init` resumes in bfloat16: 45,312 bytes of parameters'
    copies and 0.8 * 131,072 of activations fit in 200 kB, where float32's 247,910 would not."""
    init = jax.tree.map(
        lambda x: x.astype(jnp.bfloat16) if eqx.is_inexact_array(x) else x,
        tg.GPT(MODEL_CONFIG, key=jax.random.key(0)),
    )
    out = tmp_path / "run"
    config = dataclasses.replace(TRAIN_CONFIG, steps=2, warmup_steps=0, steps_per_call=2)
    train(MODEL_CONFIG, TRAIN_DATA, None, tokenizer=TOKENIZER, out_dir=out, config=config,
          progress=False, init=init)  # fmt: skip
    monkeypatch.setattr(memory_module, "_available_memory", available(200_000))
    with pytest.raises(ValueError, match=r"but 200 kB of memory is available"):
        memory_module.check_memory(MODEL_CONFIG, config)  # float32
    config = dataclasses.replace(config, steps=4)
    result = train(MODEL_CONFIG, TRAIN_DATA, None, tokenizer=TOKENIZER, out_dir=out,
                   config=config, progress=False, resume=True)  # fmt: skip
    assert result.step == 4
    assert result.model.token_embedding.dtype == jnp.bfloat16


def test_memory_check_counts_swiglus_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """SwiGLU keeps its gate and up projections, one `mlp` array more than the MLP's:
    (8*16 + 3*64) * 4 + 2*4*16*4 = 1,792 bytes a position, 229,376 in all; 4,800 parameters
    (the gate's 16*64 more), 6 copies: 115,200 bytes."""
    config = dataclasses.replace(MODEL_CONFIG, mlp="swiglu")
    monkeypatch.setattr(memory_module, "_available_memory", available(1_000))
    with pytest.raises(ValueError) as info:
        memory_module.check_memory(config, TRAIN_CONFIG)
    assert str(info.value).startswith(
        "the model has 4,800 parameters: training needs about 345 kB (115 kB for the float32 "
        "parameters and AdamW's two moments, before and after a step, and an estimated 229 kB of "
        "activations"
    )
    monkeypatch.setattr(memory_module, "_available_memory", available(115_200 + 229_376))
    memory_module.check_memory(config, TRAIN_CONFIG)  # exactly enough


def test_memory_is_not_checked_where_it_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model of 10**18 parameters passes: nothing is known to refuse it with."""
    huge = tg.GPTConfig.gpt2(vocab_size=100, embed_dim=10**8, mlp_dim=4 * 10**8, num_heads=1)
    monkeypatch.setattr(memory_module, "_available_memory", available(None))
    memory_module.check_memory(huge, TRAIN_CONFIG)
    monkeypatch.setattr(memory_module, "_available_memory", available(10**12))
    with pytest.raises(ValueError, match=r"^the model has [\d,]+ parameters: .* but 1,000 GB "):
        memory_module.check_memory(huge, TRAIN_CONFIG)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   24000000 kB\n",
            24000000 * 1024,
        ),
        ("MemTotal:       32000000 kB\n", None),
        ("MemAvailable:   lots\n", None),
        (None, None),
    ],
    ids=["linux", "no-field", "not-a-number", "missing"],
)
def test_meminfo_available(tmp_path: Path, text: str | None, expected: int | None) -> None:
    path = tmp_path / "meminfo"
    if text is not None:
        path.write_text(text, encoding="ascii")
    assert memory_module._meminfo_available(path) == expected


@dataclass(frozen=True)
class FakeDevice:
    platform: str
    stats: dict[str, int] | None

    def memory_stats(self) -> dict[str, int] | None:
        return self.stats


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (FakeDevice("gpu", {"bytes_limit": 1000, "bytes_in_use": 300}), (700, "GPU memory")),
        (FakeDevice("gpu", None), None),
        (FakeDevice("tpu", {"bytes_in_use": 300}), None),
        (FakeDevice("cpu", None), (2048, "memory")),
    ],
    ids=["gpu", "no-stats", "no-limit", "cpu"],
)
def test_available_memory_is_the_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: FakeDevice, expected: Any
) -> None:
    """An accelerator's limit less what is in use; on a CPU, MemAvailable."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemAvailable:       2 kB\n", encoding="ascii")
    monkeypatch.setattr(memory_module, "MEMINFO", meminfo)
    monkeypatch.setattr(jax, "devices", lambda: [device])
    assert memory_module._available_memory() == expected


@pytest.mark.parametrize("resume", [False, True])
def test_training_into_a_model_checkpoint(tmp_path: Path, key: jax.Array, resume: bool) -> None:
    # A folder that save_checkpoint wrote from Python: a model, no training run to resume.
    tg.save_checkpoint(tmp_path, tg.GPT(MODEL_CONFIG, key=key))
    before = snapshot(tmp_path)
    with pytest.raises(
        FileExistsError if not resume else ValueError,
        match=rf"{re.escape(str(tmp_path))} holds a model but no training state to resume: "
        "train into a new folder instead",
    ):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            None,
            tokenizer=TOKENIZER,
            out_dir=tmp_path,
            config=TrainConfig(steps=2, batch_size=2),
            resume=resume,
            progress=False,
        )
    assert snapshot(tmp_path) == before


# batch_loss


def reference_loss(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
    """Masked mean cross-entropy in float64 NumPy, one position at a time."""
    total, count = 0.0, 0.0
    for b in range(logits.shape[0]):
        for s in range(logits.shape[1]):
            row = logits[b, s].astype(np.float64)
            log_z = row.max() + math.log(np.exp(row - row.max()).sum())
            total += mask[b, s] * (log_z - row[targets[b, s]])
            count += mask[b, s]
    return total / max(count, 1.0)


def test_batch_loss_equals_a_numpy_cross_entropy(key: jax.Array) -> None:
    model = tg.GPT(MODEL_CONFIG, key=key)
    batch = TRAIN_DATA.sample_batch(np.random.default_rng(3), 5, 16)
    assert 0 < batch.mask.sum() < batch.mask.size  # short names: some padding is masked
    logits = np.stack([np.asarray(model(jnp.asarray(row))) for row in batch.inputs])
    expected = reference_loss(logits, batch.targets, batch.mask)
    loss_fn: Callable[..., jax.Array] = jax.jit(batch_loss)
    got = loss_fn(model, batch.inputs, batch.targets, batch.mask)
    assert got.shape == ()
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)

    # Masked positions do not count, whatever their targets.
    targets = np.where(batch.mask > 0, batch.targets, 0).astype(np.int32)
    assert float(loss_fn(model, batch.inputs, targets, batch.mask)) == float(got)
    # With nothing unmasked the loss is 0, not NaN.
    zero_mask = np.zeros_like(batch.mask)
    assert float(loss_fn(model, batch.inputs, batch.targets, zero_mask)) == 0.0


def test_batch_loss_of_uniform_logits_is_log_vocab(key: jax.Array) -> None:
    # All-zero parameters give all-zero logits: every id has probability 1 / vocab.
    model = jax.tree.map(jnp.zeros_like, tg.GPT(MODEL_CONFIG, key=key))
    batch = TRAIN_DATA.sample_batch(np.random.default_rng(4), 3, 16)
    got = jax.jit(batch_loss)(model, batch.inputs, batch.targets, batch.mask)
    np.testing.assert_allclose(float(got), math.log(MODEL_CONFIG.vocab_size), rtol=1e-6)


# Fine-tuning: `init`


def test_init_starts_from_its_parameters(tmp_path: Path) -> None:
    """The first step's loss is the init model's on the first batch, not a fresh model's;
    the run trains from there and checkpoints as any other."""
    init = tg.GPT(MODEL_CONFIG, key=jax.random.key(123))
    config = TrainConfig(steps=3, batch_size=4, seq_len=16, eval_every=3, learning_rate=1e-3)
    first = TRAIN_DATA.sample_batch(np.random.default_rng(config.seed), 4, 16)
    expected = float(jax.jit(batch_loss)(init, first.inputs, first.targets, first.mask))
    fresh = tg.GPT(MODEL_CONFIG, key=jax.random.key(config.seed))
    other = float(jax.jit(batch_loss)(fresh, first.inputs, first.targets, first.mask))
    assert abs(expected - other) > 1e-3  # the two starts are told apart
    result = train(
        MODEL_CONFIG,
        TRAIN_DATA,
        VAL_DATA,
        tokenizer=TOKENIZER,
        out_dir=tmp_path / "run",
        config=config,
        progress=False,
        init=init,
    )
    np.testing.assert_allclose(result.losses[0], expected, rtol=1e-5)
    assert result.step == 3
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), result.model, init)
    assert all(jax.tree.leaves(moved))  # every parameter trained on from init's values
    saved = tg.load_checkpoint(tmp_path / "run").model
    assert_same_parameters(saved, result.model)


@pytest.mark.parametrize(
    ("init", "error", "message"),
    [
        ("a model", TypeError, "init must be a tg.GPT or None, got str"),
        (
            tg.GPT(dataclasses.replace(MODEL_CONFIG, num_layers=2), key=jax.random.key(0)),
            ValueError,
            "init was made with another config than model_config: pass init.config",
        ),
        (
            jax.tree.map(
                lambda leaf: leaf.astype(jnp.float16) if eqx.is_inexact_array(leaf) else leaf,
                tg.GPT(MODEL_CONFIG, key=jax.random.key(0)),
            ),
            ValueError,
            "init has float16 parameters, in which AdamW's moments underflow",
        ),
    ],
    ids=["not-a-model", "another-config", "float16"],
)
def test_init_is_checked_before_any_work(
    tmp_path: Path, init: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        train(
            MODEL_CONFIG,
            TRAIN_DATA,
            VAL_DATA,
            tokenizer=TOKENIZER,
            out_dir=tmp_path / "run",
            config=TrainConfig(steps=2, batch_size=2),
            progress=False,
            init=init,
        )
    assert not (tmp_path / "run").exists()


# The command line


@dataclass(frozen=True)
class CliRun:
    data: Path
    out: Path
    stdout: str


def cli_train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--data",
        str(data),
        "--preset",
        "microgpt",
        "--steps",
        "8",
        "--batch-size",
        "4",
        "--eval-every",
        "4",
        "--checkpoint-every",
        "4",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


@pytest.fixture(scope="module")
def names_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "names.txt"
    path.write_text(TEXT)
    return path


@pytest.fixture(scope="module")
def cli_run(names_file: Path, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    out = tmp_path_factory.mktemp("cli") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(cli_train_args(names_file, out))
    assert code == 0, stderr.getvalue()
    return CliRun(names_file, out, stdout.getvalue())


def test_cli_train(cli_run: CliRun) -> None:
    assert sorted(p.name for p in cli_run.out.iterdir()) == sorted(RUN_FILES)
    assert saved_step(cli_run.out) == 8
    records = read_metrics(cli_run.out)
    assert [r["step"] for r in records] == list(range(1, 9))
    assert [r["step"] for r in records if "val_loss" in r] == [4, 8]
    assert "Step 8: loss" in cli_run.stdout
    checkpoint = tg.load_checkpoint(cli_run.out)
    assert checkpoint.model.config == tg.GPTConfig.microgpt(vocab_size=TOKENIZER.vocab_size)
    assert checkpoint.tokenizer_json == TOKENIZER.to_json()


def test_cli_train_unigram_entropy_is_that_of_the_targets(cli_run: CliRun) -> None:
    """The baseline to compare the loss with: the entropy of the ids the loss predicts, which
    leave out each line's opening BOS (counting it would weigh BOS twice)."""
    targets = np.concatenate([doc[1:] for doc in TRAIN_DATA.documents])
    counts = np.bincount(targets)
    probs = counts[counts > 0] / counts.sum()
    entropy = float(-np.sum(probs * np.log(probs)))
    assert f"Unigram entropy of the training tokens: {entropy:.3f} nats." in cli_run.stdout


def test_cli_train_architecture_options(names_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    options = ["--mlp", "swiglu", "--position-encoding", "rope", "--kv-heads", "2"]
    assert cli.main(cli_train_args(names_file, out, "--steps", "2", *options)) == 0
    config = tg.load_checkpoint(out).model.config
    assert config == tg.GPTConfig.microgpt(
        vocab_size=TOKENIZER.vocab_size, mlp="swiglu", position_encoding="rope", num_kv_heads=2
    )


def test_cli_train_bad_kv_heads(
    names_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(cli_train_args(names_file, tmp_path / "run", "--kv-heads", "3")) != 0
    assert "--kv-heads 3 does not divide --heads 4" in capsys.readouterr().err


def test_cli_resume(cli_run: CliRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    shutil.copytree(cli_run.out, out)
    assert cli.main([*cli_train_args(cli_run.data, out), "--resume", "--steps", "12"]) == 0
    assert "Step 12: loss" in capsys.readouterr().out
    assert saved_step(out) == 12
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 13))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--steps", "5"],
            "{out} is already at step 8, so --steps 5 leaves nothing to train: set --steps "
            "above 8 to resume",
        ),
        (
            ["--mode", "stream"],
            "--mode stream, but the run in {out} was trained with --mode lines: resume with "
            "--mode lines",
        ),
    ],
    ids=["fewer-steps", "other-mode"],
)
def test_cli_resume_errors_name_the_options(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    before = snapshot(cli_run.out)
    assert cli.main([*cli_train_args(cli_run.data, cli_run.out), "--resume", *options]) == 2
    expected = message.format(out=cli_run.out)
    assert capsys.readouterr().err == f"typedgpt train: error: {expected}\n"
    assert snapshot(cli_run.out) == before


def without_preset(argv: list[str]) -> list[str]:
    """`argv` less its `--preset microgpt`."""
    index = argv.index("--preset")
    return argv[:index] + argv[index + 2 :]


@pytest.mark.parametrize(
    ("options", "differences"),
    [
        (["--preset", "small"], "--preset small (the run has --preset microgpt); the option"),
        (
            ["--layers", "2", "--embed", "32", "--heads", "4", "--seq-len", "16"],
            "--layers 2 (the run has --layers 1); --embed 32 (the run has --embed 16); "
            "these options",
        ),
        (
            ["--mlp", "swiglu", "--position-encoding", "rope", "--kv-heads", "2"],
            "--mlp swiglu (the run has --mlp standard); --position-encoding rope (the run has "
            "--position-encoding learned); --kv-heads 2 (the run has --kv-heads 4); these "
            "options",
        ),
        (["--tokenizer", "byte"], "--tokenizer byte (the run has --tokenizer char); the option"),
    ],
    ids=["preset", "sizes", "architecture", "tokenizer"],
)
def test_cli_resume_refuses_other_model_options(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str], options: list[str], differences: str
) -> None:
    """The checkpoint decides the model and the tokenizer: a value given that differs is an
    error naming each difference, not silently ignored."""
    before = snapshot(cli_run.out)
    argv = [*without_preset(cli_train_args(cli_run.data, cli_run.out)), "--resume", *options]
    assert cli.main([*argv, "--steps", "12"]) == 2
    given, leave_out = differences.rsplit("; ", 1)
    assert capsys.readouterr().err == (
        f"typedgpt train: error: --resume continues the run in {cli_run.out} with the model "
        f"and tokenizer it was trained with, but {given}: leave out {leave_out} or give the "
        "run's values, or train a new run in another --out\n"
    )
    assert snapshot(cli_run.out) == before


@pytest.mark.parametrize(
    "options",
    [
        ["--preset", "microgpt", "--mlp", "standard", "--kv-heads", "4", "--tokenizer", "char"],
        ["--layers", "1", "--embed", "16", "--heads", "4", "--seq-len", "16"],
    ],
    ids=["preset", "sizes"],
)
def test_cli_resume_accepts_the_runs_own_model_options(
    cli_run: CliRun, tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    """The run's own values may be given; --eval-batches may change on resume too."""
    out = tmp_path / "run"
    shutil.copytree(cli_run.out, out)
    argv = [*without_preset(cli_train_args(cli_run.data, out)), "--resume", *options]
    assert cli.main([*argv, "--steps", "12", "--eval-batches", "3"]) == 0
    assert "Step 12: loss" in capsys.readouterr().out
    assert saved_step(out) == 12


@pytest.mark.parametrize(
    ("options", "difference"),
    [
        (["--grad-clip", "0.5"], "--grad-clip: recorded 1.0, given 0.5"),
        (["--grad-clip", "none"], "--grad-clip: recorded 1.0, given None"),
        (["--weight-decay", "0.1"], "--weight-decay: recorded 0.0, given 0.1"),
    ],
    ids=["grad-clip", "no-clipping", "weight-decay"],
)
def test_cli_resume_refuses_other_optimizer_settings(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str], options: list[str], difference: str
) -> None:
    """--grad-clip and --weight-decay change what a step computes: the run's must be kept."""
    before = snapshot(cli_run.out)
    argv = [*cli_train_args(cli_run.data, cli_run.out), "--resume", "--steps", "12"]
    assert cli.main([*argv, *options]) == 2
    assert capsys.readouterr().err == (
        f"typedgpt train: error: {cli_run.out} was trained with other settings ({difference}"
        "): resume with the recorded values (only --steps, "
        "--eval-every, --eval-batches, --checkpoint-every and --steps-per-call may change, "
        "and --warmup with --steps when it was capped at --steps), or start a new run in "
        "another folder\n"
    )
    assert snapshot(cli_run.out) == before


def without_data(argv: list[str]) -> list[str]:
    """`argv` less its `--data FILE`."""
    index = argv.index("--data")
    return argv[:index] + argv[index + 2 :]


def test_cli_resume_with_a_character_the_run_never_saw(
    cli_run: CliRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's tokenizer fixes its characters: the fix is the run's data, not another
    tokenizer (which the run refuses), and the error names the data given."""
    before = snapshot(cli_run.out)
    other = tmp_path / "other.txt"
    other.write_text(TEXT + "Zoe\n")
    argv = [*cli_train_args(other, cli_run.out), "--resume", "--steps", "12"]
    assert cli.main(argv) == 2
    fix = (
        f"is not one of the tokenizer's {len(TOKENIZER.chars)} characters; the run's "
        "tokenizer holds the characters of the data it was trained on: resume with that data "
        "(its --data), or train a new run in another --out\n"
    )
    assert capsys.readouterr().err == (
        f"typedgpt train: error: --data {other} does not fit the run in {cli_run.out}: line "
        f"301 (document 300, 'Zoe'): character 'Z' at position 0 {fix}"
    )
    assert cli.main(without_data(argv)) == 2  # --data forgotten: the built-in corpus
    err = capsys.readouterr().err
    assert err.startswith(
        "typedgpt train: error: the built-in corpus (no --data given) does not fit the run "
        f"in {cli_run.out}: line "
    )
    assert err.endswith(fix)
    assert snapshot(cli_run.out) == before


def test_cli_resume_with_another_val_fraction(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another --val-fraction splits other training data off: named, before any work."""
    before = snapshot(cli_run.out)
    argv = [*cli_train_args(cli_run.data, cli_run.out), "--resume", "--steps", "12"]
    assert cli.main([*argv, "--val-fraction", "0.2"]) == 2
    other = tg.TextDataset.from_text(TEXT, TOKENIZER).split(0.2, seed=0)[0]
    assert capsys.readouterr().err == (
        f"typedgpt train: error: --data {cli_run.data} with --val-fraction 0.2 gives other "
        f"training data (240 lines, {other.num_tokens} tokens with BOS) than the run in "
        f"{cli_run.out} was trained on (270 lines, {TRAIN_DATA.num_tokens} tokens with BOS): "
        "resume with the run's --data and --val-fraction, or train a new run in another "
        "--out\n"
    )
    assert snapshot(cli_run.out) == before


def test_cli_train_validation_stream_shorter_than_a_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--val-fraction decides the validation stream's length: the error names the one that
    gives a batch row, and microgpt's context is changed only with --preset small."""
    data = tmp_path / "short.txt"
    data.write_text(TEXT[:100])
    out = tmp_path / "run"
    assert cli.main(cli_train_args(data, out, "--mode", "stream")) == 2
    assert capsys.readouterr().err == (
        "typedgpt train: error: --val-fraction 0.1 keeps the last 10 tokens of the stream for "
        "validation, but a batch row needs --seq-len + 1 = 17: raise --val-fraction to 0.17, "
        "use --preset small with a lower --seq-len, pass --val-fraction 0 to train without "
        "validation, or use more text\n"
    )
    assert not out.exists()
    argv = cli_train_args(data, out, "--mode", "stream", "--val-fraction", "0.17", "--steps", "2")
    assert cli.main(argv) == 0


@pytest.mark.parametrize(
    ("val_fraction", "size", "fixes"),
    [
        ("0", 11, "use --preset small with --seq-len at most 10, or use more text"),
        ("0.6", 14, "use --preset small with --seq-len at most 13, lower --val-fraction, or use "
         "more text"),
    ],
)  # fmt: skip
def test_cli_train_stream_shorter_than_a_row_names_a_fix_the_preset_takes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    val_fraction: str,
    size: int,
    fixes: str,
) -> None:
    """tg.train's fix, a lower --seq-len, is refused with --preset microgpt."""
    data = tmp_path / "short.txt"
    data.write_text("karimo riv\n" if val_fraction == "0" else "karimo" * 6)
    out = tmp_path / "run"
    argv = cli_train_args(data, out, "--mode", "stream", "--val-fraction", val_fraction)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        f"typedgpt train: error: the training part of the data is a stream of {size} tokens "
        f"but a batch row needs --seq-len + 1 = 17: {fixes}\n"
    )
    assert not out.exists()


def test_cli_train_says_what_it_trains_on_before_training(
    names_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A piped stdout holds what is printed until it is flushed: the first line came out
    only when the run had ended."""

    class Pipe(io.StringIO):
        flushed = ""

        def flush(self) -> None:
            self.flushed = self.getvalue()

    pipe = Pipe()

    def started(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"flushed before training: {pipe.flushed!r}")

    monkeypatch.setattr(tg, "train", started)
    with contextlib.redirect_stdout(pipe), contextlib.redirect_stderr(io.StringIO()) as err:
        assert cli.main(cli_train_args(names_file, tmp_path / "run")) == 2
    assert "flushed before training: 'Training on " in err.getvalue()


def test_cli_train_grad_clip_and_eval_batches(names_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        cli.main(cli_train_args(names_file, out, "--grad-clip", "0.25", "--eval-batches", "3")) == 0
    )
    state = tg.load_checkpoint(out).train_state
    assert state is not None
    assert state["train_config"]["grad_clip"] == 0.25
    assert state["train_config"]["eval_batches"] == 3


def test_cli_divergence_names_the_options(
    names_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The advice names --lr and --grad-clip, both options of the command."""
    out = tmp_path / "run"
    argv = cli_train_args(names_file, out, "--lr", "1e30", "--warmup", "0")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert ": lower --lr (it is 1e+30) or --grad-clip (it is 1.0); no checkpoint was " in err


def test_cli_sample_model_that_is_a_checkpoint(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sample", "--model", str(cli_run.out)]) == 2
    assert capsys.readouterr().err == (
        f"typedgpt sample: error: --model {cli_run.out} is a checkpoint of typedgpt train, "
        f"not a Hugging Face folder: pass it as --checkpoint {cli_run.out}\n"
    )


def write_input(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.txt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(b"ka\x00ri\x01\x02")
    return path  # "missing": not written


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", r"--data .*missing\.txt does not exist"),
        ("empty", r"empty\.txt is empty"),
        ("binary", r"binary\.txt looks binary \(a NUL byte at offset 2\)"),
    ],
)
def test_cli_train_bad_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    data = write_input(tmp_path, kind)
    out = tmp_path / "run"
    assert cli.main(cli_train_args(data, out)) != 0
    err = capsys.readouterr().err
    assert re.search(rf"typedgpt train: error: .*{message}", err), err
    assert not out.exists()


def test_cli_train_bad_steps(
    names_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert cli.main([*cli_train_args(names_file, out), "--steps", "0"]) != 0
    assert capsys.readouterr().err == (
        "typedgpt train: error: --steps must be a positive int, got 0\n"
    )
    assert not out.exists()


def test_cli_train_into_an_existing_run(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(cli_run.out)
    assert cli.main(cli_train_args(cli_run.data, cli_run.out)) != 0
    err = capsys.readouterr().err
    assert err == (
        f"typedgpt train: error: {cli_run.out} already holds a training run: pass --resume to "
        "continue it, or choose another folder\n"
    )
    assert snapshot(cli_run.out) == before


def test_cli_resume_without_a_run(
    names_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nothing"
    assert cli.main([*cli_train_args(names_file, out), "--resume"]) != 0
    assert capsys.readouterr().err == (
        f"typedgpt train: error: --resume found no run in --out {out}: the folder does not "
        "exist: check the path, or leave out --resume to start a new run there\n"
    )
    assert not out.exists()


def test_cli_resume_in_a_folder_without_a_run(
    names_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The folder's path is said once, as --out's value."""
    out = tmp_path / "empty"
    out.mkdir()
    assert cli.main([*cli_train_args(names_file, out), "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"typedgpt train: error: --resume found no run in --out {out}: the folder has no "
        "config.json: it is incomplete; use a complete checkpoint folder (one with "
        "config.json and model.safetensors)\n"
    )
    assert list(out.iterdir()) == []


def sample_args(checkpoint: Path, *extra: str) -> list[str]:
    return [
        "sample",
        "--checkpoint",
        str(checkpoint),
        "--prompt",
        "ka",
        "--num-samples",
        "2",
        "--max-new-tokens",
        "5",
        *extra,
    ]


def test_cli_sample(cli_run: CliRun, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(sample_args(cli_run.out)) == 0
    samples = capsys.readouterr().out.split("\n---\n")
    assert len(samples) == 2
    for sample in samples:
        text = sample.strip("\n")
        assert text.startswith("ka")
        assert 2 <= len(text) <= 2 + 5
        assert set(text) <= set(TOKENIZER.chars)


def test_cli_sample_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = tmp_path / "nowhere"
    assert cli.main(sample_args(nowhere)) == 2
    assert capsys.readouterr().err == (
        f"typedgpt sample: error: --checkpoint {nowhere} does not exist: check the path\n"
    )


def test_cli_sample_folder_that_is_not_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each error about the folder names its path once, as --checkpoint's value."""
    assert cli.main(sample_args(tmp_path)) == 2
    assert capsys.readouterr().err == (
        f"typedgpt sample: error: --checkpoint {tmp_path} has no config.json: it is "
        "incomplete; use a complete checkpoint folder (one with config.json and "
        "model.safetensors)\n"
    )
    afile = tmp_path / "afile"
    afile.write_text("not a checkpoint\n", encoding="utf-8")
    assert cli.main(sample_args(afile)) == 2
    assert capsys.readouterr().err == (
        f"typedgpt sample: error: --checkpoint {afile} is a file, not a checkpoint folder: "
        "pass the folder that holds config.json and model.safetensors\n"
    )


def test_cli_sample_corrupt_checkpoint_file(
    cli_run: CliRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of the folder is named by its own name, after the folder's option."""
    out = tmp_path / "run"
    shutil.copytree(cli_run.out, out)
    (out / "config.json").write_text("{", encoding="utf-8")
    assert cli.main(sample_args(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"typedgpt sample: error: --checkpoint {out}: its config.json ")
    assert err.count(str(out)) == 1


def test_cli_sample_unknown_character(cli_run: CliRun, capsys: pytest.CaptureFixture[str]) -> None:
    args = sample_args(cli_run.out)
    args[args.index("ka")] = "kaQ"
    assert cli.main(args) != 0
    assert "character 'Q' at position 2 is not one of" in capsys.readouterr().err


def test_cli_sample_negative_temperature(
    cli_run: CliRun, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(sample_args(cli_run.out, "--temperature", "-0.5")) != 0
    captured = capsys.readouterr()
    assert "--temperature must be a finite number >= 0, got -0.5" in captured.err
    assert captured.out == ""  # checked before the first sample starts printing


def test_training_holds_one_copy_of_its_state(tmp_path: Path) -> None:
    """While it trains, `train` holds the parameters and AdamW's two moments once: three
    arrays of the position embedding's shape among the JAX arrays it made. It used to keep
    the first step's as well (six), and a resumed run the fresh model it replaced (five)."""
    config = dataclasses.replace(MODEL_CONFIG, embed_dim=64, mlp_dim=256)
    shape = (config.max_seq_len, config.embed_dim)  # no other array of the test has it
    held: list[int] = []

    def live() -> set[int]:
        gc.collect()
        arrays = jax.live_arrays()  # type: ignore[no-untyped-call]
        return {id(array) for array in arrays if array.shape == shape}

    def run_to(steps: int, resume: bool) -> int:
        train_config = dataclasses.replace(
            TRAIN_CONFIG, steps=steps, warmup_steps=1, checkpoint_every=2
        )
        before = live()
        jax.clear_caches()  # type: ignore[no-untyped-call]  # each run traces the model anew
        train(config, TRAIN_DATA, VAL_DATA, tokenizer=TOKENIZER, out_dir=tmp_path / "run",
              config=train_config, resume=resume, progress=False,
              on_step=lambda step, loss: held.append(len(live() - before)))  # fmt: skip
        return held[-1]

    assert (run_to(2, resume=False), run_to(4, resume=True)) == (3, 3)


def test_interrupt_between_records_and_state_keeps_the_records_of_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after a call's records are written but before its last step becomes the state:
    the checkpoint is of the step before the call, and `metrics.jsonl` ends there too (it
    kept the cut call's records)."""
    import typedgpt._train as train_module
    from typedgpt._metrics import write_records as write

    calls = 0

    def write_then_interrupt(metrics: Any, records: list[dict[str, Any]]) -> None:
        nonlocal calls
        write(metrics, records)
        calls += 1
        if calls == 3:  # the records of steps 11-15
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "write_records", write_then_interrupt)
    out = tmp_path / "run"
    config = dataclasses.replace(TRAIN_CONFIG, checkpoint_every=1000, steps_per_call=5)
    result = train(MODEL_CONFIG, TRAIN_DATA, VAL_DATA, tokenizer=TOKENIZER, out_dir=out,
                   config=config, progress=False)  # fmt: skip
    assert (result.interrupted, result.step, saved_step(out)) == (True, 10, 10)
    assert [record["step"] for record in read_metrics(out)] == list(range(1, 11))
