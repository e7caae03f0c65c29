"""Tests for `typedgpt/cli.py`: the `typedgpt` command, in process and as installed.

The demo trains before it samples and shows the shape error; the tests shrink it to a few
steps of a one-layer model, and write its checkpoint under a temporary folder.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from typedgpt import cli
from typedgpt._checkpoint import COMMITTED_DIR, STAGING_DIR

TINY_DEMO = [
    "demo",
    "--steps=3",
    "--warmup=1",
    "--batch-size=2",
    "--layers=1",
    "--embed=16",
    "--heads=2",
    "--seq-len=16",
    "--eval-every=3",
    "--checkpoint-every=3",
    "--num-samples=1",
    "--max-new-tokens=4",
    "--no-progress",
]


def test_demo_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo"
    assert cli.main([*TINY_DEMO, f"--out={out_dir}"]) == 0
    out = capsys.readouterr().out
    assert "Step 3: loss " in out
    # The caught shape error: the argument, its shape, and the size it should have had.
    assert "TypeCheckError: " in out
    assert 'axis "in" is 16 from field "weight"' in out
    assert 'but 12 in argument "x" (float32[12])' in out
    # Exactly the files a demo writes, which a later demo may clear: nothing else.
    assert {path.name for path in out_dir.iterdir()} == cli._demo_files()


def test_demo_checks_sampling_options_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import typedgpt as tg

    vocab = tg.CharTokenizer.from_text(tg.builtin_corpus(), mode="stream").vocab_size
    out_dir = tmp_path / "demo"
    assert cli.main([*TINY_DEMO, f"--out={out_dir}", f"--top-k={vocab + 1}"]) == 2
    captured = capsys.readouterr()
    assert "Training" not in captured.out
    assert captured.err.startswith(
        f"typedgpt demo: error: --top-k must be an int from 1 to the vocabulary size ({vocab}), "
        f"got {vocab + 1}: leave the option out to keep every token"
    )
    assert not out_dir.exists()


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` and the bytes of each file (None for a folder)."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def fake_run(folder: Path, *, marker: bool) -> None:
    """The files of a checkpoint folder, with stand-in contents; with `marker`, a demo's."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in cli._demo_files() - {cli.DEMO_MARKER}:
        (folder / name).write_text(f"{name} of a run\n", encoding="utf-8")
    if marker:
        (folder / cli.DEMO_MARKER).write_text("a demo's\n", encoding="utf-8")


def project(folder: Path) -> None:
    """The tester's case: a project folder that happens to hold a train_state.json."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.py").write_text("print(1)\n", encoding="utf-8")
    (folder / "important.csv").write_text("data\n", encoding="utf-8")
    (folder / "train_state.json").write_text("{}\n", encoding="utf-8")


def run_with_notes(folder: Path) -> None:
    fake_run(folder, marker=False)
    (folder / "NOTES.txt").write_text("what this run was for\n", encoding="utf-8")


def demo_with_notes(folder: Path) -> None:
    fake_run(folder, marker=True)
    (folder / "NOTES.txt").write_text("added after the demo\n", encoding="utf-8")


def demo_with_a_folder(folder: Path) -> None:
    fake_run(folder, marker=True)
    (folder / "plots").mkdir()
    (folder / "plots" / "mine.png").write_bytes(b"png")


@pytest.mark.parametrize(
    ("make", "holds"),
    [
        (project, "holds files the demo did not write (important.csv, src)"),
        (run_with_notes, "holds files the demo did not write (NOTES.txt)"),
        (
            lambda folder: fake_run(folder, marker=False),
            "holds a run that the demo did not write (no typedgpt-demo.txt)",
        ),
        (demo_with_notes, "holds files the demo did not write (NOTES.txt)"),
        (demo_with_a_folder, "holds files the demo did not write (plots)"),
    ],
    ids=["project", "run-with-notes", "training-run", "demo-with-notes", "demo-with-a-folder"],
)
def test_demo_never_deletes_what_it_did_not_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    holds: str,
) -> None:
    """A folder the demo did not write, or one it wrote that now holds more, is refused
    before training, and every file in it is left as it was (`--out .` once wiped a
    project's source, and `--out runs/precious` a training run)."""
    make(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main([*TINY_DEMO, "--out=."]) == 2
    captured = capsys.readouterr()
    assert "Training" not in captured.out
    assert captured.err == (
        f"typedgpt demo: error: --out . is not empty and {holds}: the demo deletes nothing "
        "it did not write, so pass --out a new or empty folder\n"
    )
    assert snapshot(tmp_path) == before


def test_demo_clears_only_its_own_files(tmp_path: Path) -> None:
    """An earlier demo's folder is emptied file by file, a half-written `.NAME.*.tmp` and
    the staging folders of a killed checkpoint save included, and marked again; an empty
    folder is marked; a new one is made."""
    folder = tmp_path / "demo"
    fake_run(folder, marker=True)
    (folder / ".model.safetensors.x1y2.tmp").write_bytes(b"half")
    for staged in (STAGING_DIR, COMMITTED_DIR):
        (folder / staged).mkdir()
        (folder / staged / "model.safetensors").write_bytes(b"staged")
    cli._prepare_demo_folder(folder)
    assert [path.name for path in folder.iterdir()] == [cli.DEMO_MARKER]
    assert "typedgpt demo" in (folder / cli.DEMO_MARKER).read_text(encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    cli._prepare_demo_folder(empty)
    assert [path.name for path in empty.iterdir()] == [cli.DEMO_MARKER]
    cli._prepare_demo_folder(tmp_path / "new" / "demo")
    assert [path.name for path in (tmp_path / "new" / "demo").iterdir()] == [cli.DEMO_MARKER]


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("é", "error: --prompt 'é': character 'é' at position 0 is not one of the tokenizer's "),
        ("é", ": use characters from the built-in corpus the demo trains on\n"),
        (
            "The quick brown fox",  # BOS and 19 characters; TINY_DEMO's context is 16
            "the prompt is 19 tokens, 20 with the start token, but the model's context is 16: "
            "shorten the prompt",
        ),
    ],
)
def test_demo_checks_the_prompt_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prompt: str, message: str
) -> None:
    out_dir = tmp_path / "demo"
    assert cli.main([*TINY_DEMO, f"--out={out_dir}", f"--prompt={prompt}"]) == 2
    captured = capsys.readouterr()
    assert "Training" not in captured.out
    assert captured.err.startswith("typedgpt demo: error: ") and message in captured.err
    assert "--tokenizer" not in captured.err  # the demo has no such option to suggest
    assert not out_dir.exists()


@pytest.mark.parametrize("command", [["train"], ["demo"], ["sample", "--model=nowhere"]])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "99999999999999999999999"])
def test_seed_is_checked_by_every_command(
    capsys: pytest.CaptureFixture[str], command: list[str], seed: str
) -> None:
    """One rule for every command: 0 to 2**32 - 1, the seeds whose keys differ."""
    with pytest.raises(SystemExit) as info:
        cli.main([*command, f"--seed={seed}"])
    assert info.value.code == 2
    assert (
        f"argument --seed: must be from 0 to 4294967295 (2**32 - 1), got {seed}: a PRNG key "
        "holds 32 bits"
    ) in capsys.readouterr().err


def test_seed_range_is_what_a_key_holds() -> None:
    import jax
    import numpy as np

    def data(seed: int) -> list[int]:
        return np.asarray(jax.random.key_data(jax.random.key(seed))).tolist()  # type: ignore[no-any-return]

    assert cli.build_parser().parse_args(["train", "--seed=4294967295"]).seed == cli.MAX_SEED
    assert data(cli.MAX_SEED) != data(0)
    assert data(cli.MAX_SEED + 1) == data(0)  # why larger seeds are refused


@pytest.mark.parametrize("command", ["train", "demo"])
def test_microgpt_refuses_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    out_dir = tmp_path / "run"
    argv = [command, "--preset=microgpt", "--layers=7", "--embed=999", f"--out={out_dir}"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        f"typedgpt {command}: error: --preset microgpt has its own sizes (1 layer, embed 16, "
        "4 heads, 16 positions), so --layers 7 --embed 999 would be ignored: drop --layers 7 "
        "--embed 999, or use --preset small to set the sizes\n"
    )
    assert not out_dir.exists()


@pytest.mark.parametrize("command", ["train", "demo"])
def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine\n", encoding="utf-8")
    assert cli.main([command, f"--out={afile}"]) == 2
    assert capsys.readouterr().err == (
        f"typedgpt {command}: error: --out {afile} is a file, not a folder: pass a folder for "
        "the checkpoint (a new one is created), or move the file away\n"
    )
    assert cli.main([command, f"--out={afile / 'sub'}"]) == 2
    assert capsys.readouterr().err.startswith(
        f"typedgpt {command}: error: --out {afile / 'sub'} lies inside {afile}, which is a "
        "file, not a folder: "
    )
    assert afile.read_text(encoding="utf-8") == "mine\n"


def test_train_notes_what_lines_mode_cuts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines of 3 and 11 characters, [BOS] line [BOS]: 5 and 13 ids, 4 and 12 targets each.
    A context of 8 trains on 9 ids a line, so the long lines lose 4 of their 12 targets."""
    data = tmp_path / "lines.txt"
    data.write_text("abc\nabcdefghijk\n" * 10, encoding="utf-8")
    argv = ["train", f"--data={data}", f"--out={tmp_path / 'run'}", "--seq-len=8"]
    tiny = ["--layers=1", "--embed=8", "--heads=1", "--steps=1", "--batch-size=2"]
    assert cli.main([*argv, *tiny, "--warmup=0", "--eval-every=1", "--no-progress"]) == 0
    train_lines = 18  # val_fraction 0.1 keeps 2 of the 20 lines; both kinds stay 9 and 9
    assert capsys.readouterr().err == (
        "typedgpt train: note: --mode lines trains on the first 9 tokens of each line (the "
        f"context, 8, plus one), so {9 * 4 / (train_lines / 2 * 16):.1%} of the training "
        "tokens are never trained on: use --mode stream, or raise --seq-len (lines run up "
        "to 13 tokens, BOS included)\n"
    )


def test_lines_mode_note_gives_advice_the_preset_allows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --preset microgpt refuses --seq-len: the note must not advise raising it.
    data = tmp_path / "lines.txt"
    data.write_text("abc\nabcdefghijklmnopqrstuvwxyz\n" * 10, encoding="utf-8")
    argv = ["train", f"--data={data}", f"--out={tmp_path / 'run'}", "--preset=microgpt"]
    assert cli.main([*argv, "--steps=1", "--warmup=0", "--eval-every=1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "use --mode stream, or --preset small with a --seq-len above the longest line" in err
    assert "raise --seq-len" not in err


NAMES = "".join(f"{name}{i % 7}\n" for i, name in enumerate(["kari", "mosen", "luta"] * 20))
TINY_TRAIN = ["--layers=1", "--embed=8", "--heads=2", "--seq-len=8", "--steps=2", "--no-progress"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps=0"], "--steps must be a positive int, got 0"),
        (["--batch-size=-3"], "--batch-size must be a positive int, got -3"),
        (["--lr=nan"], "--lr must be a finite number > 0, got nan"),
        (["--lr=inf"], "--lr must be a finite number > 0, got inf"),
        (["--warmup=-1"], "--warmup must be between 0 and --steps 2, got -1"),
        (["--warmup=3"], "--warmup must be between 0 and --steps 2, got 3"),  # was capped
        (["--eval-every=0"], "--eval-every must be a positive int, got 0"),
        (["--checkpoint-every=0"], "--checkpoint-every must be a positive int, got 0"),
        (["--steps-per-call=0"], "--steps-per-call must be a positive int, got 0"),
        (["--val-fraction=nan"], "--val-fraction must be between 0 and 1, got nan"),
        (["--val-fraction=inf"], "--val-fraction must be between 0 and 1, got inf"),
        (
            ["--val-fraction=0.001"],
            "--val-fraction 0.001 of 60 documents leaves no validation documents: both parts "
            "need at least one; use more text or another --val-fraction, or --val-fraction 0 "
            "to train without validation",
        ),
        (["--layers=0"], "--layers must be a positive int, got 0"),
        (["--seq-len=-5"], "--seq-len must be a positive int, got -5"),
        (
            ["--heads=3"],
            "--embed 8 is not divisible by --heads 3: choose --embed as a multiple of --heads",
        ),
        (["--kv-heads=0"], "--kv-heads must be a positive int, got 0"),
        (
            ["--kv-heads=3"],
            "--kv-heads 3 does not divide --heads 2: each key/value head serves an equal group "
            "of query heads; choose a divisor of --heads",
        ),
        (
            ["--position-encoding=rope", "--embed=6"],
            "--position-encoding rope rotates pairs of features, so the head width --embed "
            "// --heads must be even, got 6 // 2 = 3: choose --embed and --heads with an even "
            "quotient",
        ),
        (
            ["--mode=stream", "--val-fraction=0.02"],
            "--val-fraction 0.02 keeps the last 8 tokens of the stream for validation, but a "
            "batch row needs --seq-len + 1 = 9: raise --val-fraction to 0.024, lower "
            "--seq-len, pass --val-fraction 0 to train without validation, or use more text",
        ),
        (
            ["--val-fraction=0", "--eval-every=5", "--eval-batches=2"],
            "--eval-every 5 and --eval-batches 2 set how the validation loss is measured, but "
            "--val-fraction 0 keeps no validation data: pass a --val-fraction above 0, or "
            "leave out --eval-every and --eval-batches",
        ),
    ],
)
def test_train_errors_name_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    """An error of the Python API names the option that was typed, never the Python name."""
    data = tmp_path / "names.txt"
    data.write_text(NAMES, encoding="utf-8")
    argv = ["train", f"--data={data}", f"--out={tmp_path / 'run'}", *TINY_TRAIN, *options]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"typedgpt train: error: {message}\n"
    assert not (tmp_path / "run").exists()


def test_train_without_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--val-fraction 0 holds nothing out: a text of one line can be trained on, and no
    validation loss is recorded; resuming keeps it so."""
    import json

    data, out = tmp_path / "one.txt", tmp_path / "run"
    data.write_text("kari mosen luta\n", encoding="utf-8")
    argv = ["train", f"--data={data}", f"--out={out}", *TINY_TRAIN]
    assert cli.main(argv) == 2
    assert "or --val-fraction 0 to train without validation" in capsys.readouterr().err
    assert cli.main([*argv, "--val-fraction=0", "--eval-every=1"]) == 2  # nothing to evaluate
    assert "leave out --eval-every" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main([*argv, "--val-fraction=0"]) == 0
    assert cli.main([*argv, "--val-fraction=0", "--steps=3", "--resume"]) == 0
    assert "validation loss" not in capsys.readouterr().out
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], "val_loss" in r) for r in records] == [(1, False), (2, False), (3, False)]


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (
            None,
            "--data {data} does not exist: check the path, or leave out --data to train on the "
            "built-in corpus",
        ),
        (
            b"",
            "--data {data} is empty (0 bytes, no text): give a UTF-8 text file with one "
            "document per line, or leave out --data to train on the built-in corpus",
        ),
        (
            b"ka\x00ri\n",
            "--data {data} looks binary (a NUL byte at offset 2): give a UTF-8 text file",
        ),
        (
            b"\xffkari\n",
            "--data {data} looks binary (not valid UTF-8 at byte 0): give a UTF-8 "
            "text file, or convert it first (iconv -t UTF-8)",
        ),
    ],
    ids=["missing", "empty", "binary", "not-utf-8"],
)
def test_train_data_errors_name_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], contents: bytes | None, message: str
) -> None:
    data = tmp_path / "data.txt"
    if contents is not None:
        data.write_bytes(contents)
    assert cli.main(["train", f"--data={data}", f"--out={tmp_path / 'run'}"]) == 2
    assert capsys.readouterr().err == f"typedgpt train: error: {message.format(data=data)}\n"


def test_training_settings_of_errors_are_options() -> None:
    """Every setting that an error of `train` may name and the command sets is its option:
    the divergence advice (`grad_clip`) and the settings a resume may change."""
    options = cli.COMMAND_OPTIONS["train"]
    assert cli._reworded("lower learning_rate (it is 1e+30) or grad_clip (it is 1.0)", options) == (
        "lower --lr (it is 1e+30) or --grad-clip (it is 1.0)"
    )
    assert cli._reworded(
        "lower learning_rate (it is 1.0) or set grad_clip (it is None)", options
    ) == ("lower --lr (it is 1.0) or set --grad-clip (it is none, no clipping)")
    assert cli._reworded("other settings (weight_decay: recorded 0.0, given 0.1)", options) == (
        "other settings (--weight-decay: recorded 0.0, given 0.1)"
    )
    assert cli._reworded("only steps, eval_every, eval_batches may change", options) == (
        "only --steps, --eval-every, --eval-batches may change"
    )
    assert cli._reworded("other settings (seed: recorded 0, given 3)", options) == (
        "other settings (--seed: recorded 0, given 3)"
    )


def test_grad_clip_and_eval_batches_default_to_train_configs() -> None:
    import typedgpt as tg

    for command in ("train", "demo"):
        args = cli.build_parser().parse_args([command])
        assert (args.grad_clip, args.eval_batches) == (1.0, 8)
        defaults = tg.TrainConfig()
        assert (args.grad_clip, args.eval_batches) == (defaults.grad_clip, defaults.eval_batches)
    args = cli.build_parser().parse_args(["train", "--grad-clip=0.5", "--eval-batches=3"])
    config = cli._train_config(args)
    assert (config.grad_clip, config.eval_batches) == (0.5, 3)


@pytest.mark.parametrize("command", ["train", "demo"])
def test_grad_clip_none_and_weight_decay_reach_the_train_config(command: str) -> None:
    """`--grad-clip none` turns clipping off; `--weight-decay` is AdamW's, 0 by default as in
    `TrainConfig`."""
    import typedgpt as tg

    parser = cli.build_parser()
    assert cli._train_config(parser.parse_args([command])).weight_decay == (
        tg.TrainConfig().weight_decay
    )
    args = parser.parse_args([command, "--grad-clip", "None", "--weight-decay=0.1"])
    config = cli._train_config(args)
    assert (config.grad_clip, config.weight_decay) == (None, 0.1)
    assert cli._train_config(parser.parse_args([command, "--weight-decay=0"])).weight_decay == 0


@pytest.mark.parametrize("command", ["train", "demo"])
@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--grad-clip=0", "must be a finite number > 0, got 0.0, or none for no clipping"),
        ("--grad-clip=-1", "must be a finite number > 0, got -1.0, or none for no clipping"),
        ("--grad-clip=inf", "must be a finite number > 0, got inf, or none for no clipping"),
        ("--grad-clip=nan", "must be a finite number > 0, got nan, or none for no clipping"),
        ("--grad-clip=off", "expected a number, got 'off', or none for no clipping"),
        ("--weight-decay=-0.1", "must be a finite number >= 0, got -0.1"),
        ("--weight-decay=inf", "must be a finite number >= 0, got inf"),
        ("--weight-decay=nan", "must be a finite number >= 0, got nan"),
        ("--weight-decay=some", "expected a number, got 'some'"),
        ("--eval-batches=0", "must be at least 1, got 0"),
    ],
)
def test_training_numbers_are_checked(
    capsys: pytest.CaptureFixture[str], command: str, option: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, option])
    assert info.value.code == 2
    name = option.split("=")[0]
    assert capsys.readouterr().err.endswith(
        f"typedgpt {command}: error: argument {name}: {message}\n"
    )


def test_only_typed_options_are_given() -> None:
    """`args.given` holds the model and tokenizer options typed, not their defaults."""
    parser = cli.build_parser()
    assert parser.parse_args(["train"]).given == frozenset()
    args = parser.parse_args(["train", "--preset=small", "--mlp", "standard", "--seq-len=8"])
    assert args.given == {"preset", "mlp", "seq_len"}
    assert parser.parse_args(["demo", "--kv-heads=1"]).given == {"kv_heads"}


# `--layers 1 --embed 8 --heads 2 --seq-len 8` on NAMES, whose vocabulary is 12 letters, 7
# digits and BOS: 20 ids. Parameters: embeddings 20*8 + 8*8; the block's two norms 2*2*8,
# attention 4*8*8 + 4*8 and MLP 2*8*32 + 32 + 8; the final norm 2*8: 1,112 in all, 6 float32
# copies 26,688 bytes. Activations of 32 rows of 8 positions: (8*8 + 2*32) * 4 bytes + the
# float32 scores 2*2*8 * 4, 640 bytes a position, 163,840 in all.
TINY_MEMORY = (
    "the model has 1,112 parameters: training needs about 191 kB (27 kB for the float32 "
    "parameters and AdamW's two moments, before and after a step, and an estimated 164 kB of "
    "activations for --batch-size 32 rows of --seq-len 8 tokens) but 100 kB of memory is "
    "available: lower --batch-size or --seq-len, or --embed or --layers"
)


def test_train_refuses_a_model_larger_than_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before training starts, in the options' words, instead of being killed."""
    import typedgpt._memory as memory_module

    monkeypatch.setattr(memory_module, "_available_memory", lambda: (100_000, "memory"))
    data = tmp_path / "names.txt"
    data.write_text(NAMES, encoding="utf-8")
    argv = ["train", f"--data={data}", f"--out={tmp_path / 'run'}", *TINY_TRAIN]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"typedgpt train: error: {TINY_MEMORY}\n"
    assert captured.out == ""  # before a word about the data
    assert not (tmp_path / "run").exists()


def test_demo_checks_memory_before_clearing_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typedgpt._memory as memory_module

    monkeypatch.setattr(memory_module, "_available_memory", lambda: (1_000, "memory"))
    out_dir = tmp_path / "demo"
    assert cli.main([*TINY_DEMO, f"--out={out_dir}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typedgpt demo: error: the model has ")
    assert err.endswith(
        " but 1.0 kB of memory is available: choose a smaller model: lower --embed or --layers\n"
    )
    assert not out_dir.exists()


def test_reworded_leaves_paths_and_other_names_alone() -> None:
    options = cli.COMMAND_OPTIONS["train"]
    assert cli._reworded("runs/steps/steps.txt: steps=3, beta1", options) == (
        "runs/steps/steps.txt: --steps 3, beta1"
    )
    assert cli._reworded("TrainConfig.steps must be", {}) == "TrainConfig.steps must be"


def test_demo_checks_training_settings_before_clearing_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "demo"
    assert cli.main([*TINY_DEMO, f"--out={out_dir}", "--steps=0"]) == 2
    assert capsys.readouterr().err == (
        "typedgpt demo: error: --steps must be a positive int, got 0\n"
    )
    assert not out_dir.exists()


def test_quickstart_states_the_parser_defaults() -> None:
    """Every default that docs/quickstart.md states is the parser's."""
    import typedgpt as tg

    page = Path(__file__).resolve().parent.parent / "docs" / "quickstart.md"
    text = " ".join(page.read_text(encoding="utf-8").split())
    parser = cli.build_parser()

    def defaults(*argv: str) -> dict[str, Any]:
        args = parser.parse_args(list(argv))
        if hasattr(args, "size_defaults"):
            cli._resolve_sizes(args)
        return vars(args)

    demo = defaults("demo")
    assert (
        f"({demo['layers']} layers, embed {demo['embed']}, {demo['heads']} heads, "
        f"{demo['seq_len']} positions) for {demo['steps']} steps"
    ) in text
    assert f"goes to `{demo['out']}` (`--out`)" in text
    micro = tg.GPTConfig.microgpt(vocab_size=27)
    assert (
        f"`--preset microgpt` ({micro.num_layers} layer, embed {micro.embed_dim}, "
        f"{micro.num_heads} heads, {micro.max_seq_len} positions"
    ) in text
    assert defaults("sample", "--model=m")["max_new_tokens"] is None  # then the default:
    assert f"`--max-new-tokens` ({cli.DEFAULT_NEW_TOKENS} by default," in text

    # The option list of `typedgpt train`: the first `--option value` of each is its default.
    train = defaults("train")
    options = text[text.index("The options, with their defaults") :]
    options = options[: options.index("## Sample from a checkpoint")]
    checked = set()
    for span in re.findall(r"`(--[^`]*)`", options):
        words = span.split()
        for option, value in zip(words[::2], words[1::2], strict=False):
            name = option.removeprefix("--").replace("-", "_")
            if name in checked or value.isupper():  # FILE is a placeholder
                continue
            checked.add(name)
            default = train[name]
            if "|" in value:  # the choices, the default first
                assert value.split("|")[0] == default, span
            else:
                assert type(default)(value) == default, span
    assert len(checked) >= 15, checked


def test_demo_console_script(tmp_path: Path) -> None:
    """The `typedgpt` script installed next to this interpreter runs the demo."""
    script = shutil.which("typedgpt", path=os.path.dirname(sys.executable))
    assert script is not None, f"no typedgpt script next to {sys.executable}: pip install -e ."
    result = subprocess.run(
        [script, *TINY_DEMO, f"--out={tmp_path / 'demo'}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "TypeCheckError" in result.stdout


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# typedgpt sample --model: a Hugging Face GPT-2 folder, with its byte-level BPE tokenizer.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GPT-2 saved as a Hugging Face folder with a BPE trained here."""
    import jax
    import tokenizers

    import typedgpt as tg

    words = ["the", "cat", "sat", "on", "mat", "héllo", "日本", "dog"]
    lines = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(9)) for i in range(60)]
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=290,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(lines, trainer)
    tokenizer = tg.HFTokenizer(bpe)
    config = tg.GPTConfig.gpt2(
        vocab_size=tokenizer.vocab_size,
        max_seq_len=32,
        num_layers=1,
        num_heads=2,
        embed_dim=16,
        mlp_dim=64,
        init_std=0.5,  # sharp logits, so greedy samples vary with the prompt
    )
    folder = tmp_path_factory.mktemp("gpt2") / "model"
    tg.save_pretrained(tg.GPT(config, key=jax.random.key(0)), folder, tokenizer=tokenizer)
    return folder


def _expected_sample(
    folder: Path,
    prompt: str,
    seed: int,
    *,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
    max_new_tokens: int = 8,
) -> str:
    """What `typedgpt sample --model` should print for one sample, computed directly."""
    import jax

    import typedgpt as tg

    model = tg.from_pretrained(folder)
    tokenizer = tg.HFTokenizer.from_pretrained(folder)
    ids = tokenizer.encode(prompt) or [tokenizer.bos_id]
    _, sample_key = jax.random.split(jax.random.key(seed))
    new = tg.generate(
        model,
        ids,
        max_new_tokens=max_new_tokens,
        eos_id=tokenizer.bos_id,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        key=sample_key,
    )
    return prompt + tokenizer.decode(new) + "\n"


def test_sample_model_greedy(gpt2_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sample", f"--model={gpt2_folder}", "--prompt=the cat", "--temperature=0"]
    assert cli.main([*argv, "--max-new-tokens=8", "--num-samples=2"]) == 0
    expected = _expected_sample(gpt2_folder, "the cat", 0, temperature=0)
    assert len(expected) > len("the cat\n")
    assert capsys.readouterr().out == expected + "---\n" + expected


@pytest.mark.parametrize("prompt", ["", "héllo dog"])
def test_sample_model_options(
    gpt2_folder: Path, capsys: pytest.CaptureFixture[str], prompt: str
) -> None:
    """Temperature, top-k, top-p and the seed reach generate; an empty prompt starts from
    <|endoftext|>."""
    argv = [
        "sample",
        f"--model={gpt2_folder}",
        f"--prompt={prompt}",
        "--temperature=0.9",
        "--top-k=20",
        "--top-p=0.95",
        "--seed=3",
        "--max-new-tokens=8",
        "--num-samples=1",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    expected = _expected_sample(gpt2_folder, prompt, 3, temperature=0.9, top_k=20, top_p=0.95)
    assert out == expected


def test_fine_tune_a_pretrained_model_then_sample_it(
    gpt2_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From Python: load a Hugging Face folder, train on from its parameters (`init`) with its
    own tokenizer, then `typedgpt sample --checkpoint` the run."""
    import typedgpt as tg

    model = tg.from_pretrained(gpt2_folder)
    tokenizer = tg.HFTokenizer.from_pretrained(gpt2_folder)
    data = tg.TextDataset.from_text("the cat sat on the mat\n" * 20, tokenizer)
    result = tg.train(
        model.config,
        data,
        None,
        tokenizer=tokenizer,
        out_dir=tmp_path / "tuned",
        config=tg.TrainConfig(steps=2, batch_size=2, warmup_steps=0),
        progress=False,
        init=model,
    )
    assert result.step == 2
    argv = ["sample", f"--checkpoint={tmp_path / 'tuned'}", "--prompt=the", "--temperature=0"]
    assert cli.main([*argv, "--max-new-tokens=4", "--num-samples=1"]) == 0
    assert capsys.readouterr().out.startswith("the")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_sample_dtype(
    gpt2_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dtype: str,
) -> None:
    """--dtype reaches the model sampled, loaded from a folder or from a checkpoint."""
    import jax
    import jax.numpy as jnp

    import typedgpt as tg

    seen: list[str] = []
    generate = tg.generate

    def spy(model: tg.GPT, *args: Any, **kwargs: Any) -> Any:
        seen.append(jnp.dtype(model.token_embedding.dtype).name)
        return generate(model, *args, **kwargs)

    monkeypatch.setattr(tg, "generate", spy)
    tokenizer = tg.CharTokenizer.from_text("abc")
    config = tg.GPTConfig.microgpt(vocab_size=tokenizer.vocab_size)
    tg.save_checkpoint(
        tmp_path / "run",
        tg.GPT(config, key=jax.random.key(0)),
        tokenizer_json=tokenizer.to_json(),
    )
    options = [f"--dtype={dtype}", "--temperature=0", "--max-new-tokens=4", "--num-samples=1"]
    assert cli.main(["sample", f"--model={gpt2_folder}", *options]) == 0
    assert cli.main(["sample", f"--checkpoint={tmp_path / 'run'}", *options]) == 0
    assert seen == [dtype, dtype]
    capsys.readouterr()


def test_sample_names_the_option_that_keeps_newlines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import jax

    import typedgpt as tg

    tokenizer = tg.CharTokenizer.from_text("ab\nc", mode="lines")  # newlines end documents
    config = tg.GPTConfig.microgpt(vocab_size=tokenizer.vocab_size)
    tg.save_checkpoint(
        tmp_path, tg.GPT(config, key=jax.random.key(0)), tokenizer_json=tokenizer.to_json()
    )
    assert cli.main(["sample", f"--checkpoint={tmp_path}", "--prompt=a\nb"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typedgpt sample: error: --prompt 'a\\nb': character '\\n' at ")
    assert err.endswith(" (train with --mode stream to keep newlines)\n")


def test_sample_counts_the_start_token_it_puts_before_the_prompt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint's prompt starts with the start token: 15 characters take the 16 tokens
    of microgpt's context, leaving one new token (the messages said "the prompt takes 16"
    and "at most 1 new tokens"); 16 characters are refused as 16 tokens, 17 with it."""
    import jax

    import typedgpt as tg

    tokenizer = tg.CharTokenizer.from_text("ab")
    config = tg.GPTConfig.microgpt(vocab_size=tokenizer.vocab_size)
    tg.save_checkpoint(
        tmp_path, tg.GPT(config, key=jax.random.key(0)), tokenizer_json=tokenizer.to_json()
    )
    argv = ["sample", f"--checkpoint={tmp_path}", "--max-new-tokens=5", "--num-samples=1"]
    assert cli.main([*argv, f"--prompt={'ab' * 7}a"]) == 0
    assert capsys.readouterr().err == (
        "typedgpt sample: note: the model's context is 16 tokens and the prompt takes 16 with "
        "the start token: each sample has at most 1 new token, not 5\n"
    )
    assert cli.main([*argv, f"--prompt={'ab' * 8}"]) == 2
    assert capsys.readouterr().err == (
        "typedgpt sample: error: the prompt is 16 tokens, 17 with the start token, but the "
        "model's context is 16: shorten the prompt\n"
    )


def test_sample_refuses_a_tokenizer_larger_than_the_vocabulary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prompt id would index past the embedding: refused before any output."""
    import jax

    import typedgpt as tg

    tokenizer = tg.CharTokenizer.from_text("abc")  # a, b, c and BOS
    config = tg.GPTConfig.microgpt(vocab_size=3)
    tg.save_checkpoint(
        tmp_path, tg.GPT(config, key=jax.random.key(0)), tokenizer_json=tokenizer.to_json()
    )
    assert cli.main(["sample", f"--checkpoint={tmp_path}", "--prompt=ab"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "typedgpt sample: error: the tokenizer has 4 token ids but the model's vocabulary "
        "is 3: sample a model with the tokenizer it was trained with\n",
    )


@pytest.mark.parametrize("tied", [True, False])
def test_sample_a_vocabulary_padded_past_the_tokenizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tied: bool
) -> None:
    """Rows past the tokenizer's ids (as GPT-2's 50257 ids padded to 50304) are never
    sampled: greedy sampling picks the likeliest of the tokenizer's ids only."""
    import jax
    import jax.numpy as jnp

    import typedgpt as tg

    tokenizer = tg.CharTokenizer.from_text("abc")  # a, b, c and BOS (3)
    config = tg.GPTConfig.gpt2(
        vocab_size=9, num_layers=1, embed_dim=8, num_heads=2, max_seq_len=16
    ).replace(tie_embeddings=tied)
    model = tg.GPT(config, key=jax.random.key(1))
    tg.save_checkpoint(tmp_path, model, tokenizer_json=tokenizer.to_json())
    ids = [tokenizer.bos_id, *tokenizer.encode("ab")]
    for _ in range(6):  # greedy over the first four logits, to BOS or 6 tokens
        ids.append(int(jnp.argmax(model(jnp.asarray(ids))[-1, :4])))
        if ids[-1] == tokenizer.bos_id:
            break
    options = ["--prompt=ab", "--temperature=0", "--max-new-tokens=6", "--num-samples=1"]
    assert cli.main(["sample", f"--checkpoint={tmp_path}", *options]) == 0
    captured = capsys.readouterr()
    assert captured.out == "ab" + tokenizer.decode(ids[3:]) + "\n"
    assert captured.err == (
        "typedgpt sample: note: the model has 9 token ids and its tokenizer 4: sampling only "
        "the tokenizer's\n"
    )


def test_sample_caps_new_tokens_at_the_context(
    gpt2_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """More new tokens than the context holds: the samples stop at the context, and a note
    on stderr says so."""
    import typedgpt as tg

    prompt_ids = tg.HFTokenizer.from_pretrained(gpt2_folder).encode("the cat")
    room = 32 - len(prompt_ids) + 1  # the fixture's context is 32 tokens
    argv = ["sample", f"--model={gpt2_folder}", "--prompt=the cat", "--temperature=0"]
    assert cli.main([*argv, "--max-new-tokens=100", "--num-samples=1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == _expected_sample(
        gpt2_folder, "the cat", 0, temperature=0, max_new_tokens=room
    )
    assert captured.err == (
        f"typedgpt sample: note: the model's context is 32 tokens and the prompt takes "
        f"{len(prompt_ids)}: each sample has at most {room} new tokens, not 100\n"
    )
    # Without --max-new-tokens, its default (200) is capped quietly.
    assert cli.main([*argv, "--num-samples=1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == _expected_sample(
        gpt2_folder, "the cat", 0, temperature=0, max_new_tokens=room
    )
    assert captured.err == ""


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--temperature=-1", "--temperature must be a finite number >= 0, got -1.0"),
        ("--top-k=0", "--top-k must be an int from 1 to the vocabulary size ("),
        ("--top-p=1.5", "--top-p must be a number in (0, 1], got 1.5"),
    ],
)
def test_sample_checks_options_before_printing(
    gpt2_folder: Path, capsys: pytest.CaptureFixture[str], option: str, message: str
) -> None:
    """A bad option stops the command before any sample text is printed."""
    argv = ["sample", f"--model={gpt2_folder}", "--prompt=the cat", option]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"typedgpt sample: error: {message}")


@pytest.mark.parametrize("model", ["--model=no-such-folder", "--checkpoint=no-such-folder"])
def test_sample_checks_the_prompt_before_loading(
    capsys: pytest.CaptureFixture[str], model: str
) -> None:
    """A prompt with a lone surrogate (as a shell passes bytes that are not UTF-8) is named
    as --prompt before anything is loaded: the folder here does not exist."""
    assert cli.main(["sample", model, "--prompt=ab\udcff"]) == 2
    assert capsys.readouterr().err.startswith(
        "typedgpt sample: error: --prompt 'ab\\udcff': text has a surrogate code point "
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--num-samples=0", "argument --num-samples: must be at least 1, got 0"),
        ("--max-new-tokens=-3", "argument --max-new-tokens: must be at least 1, got -3"),
        ("--max-new-tokens=ten", "argument --max-new-tokens: expected a whole number, got 'ten'"),
    ],
)
def test_sample_counts_are_positive_ints(
    capsys: pytest.CaptureFixture[str], option: str, message: str
) -> None:
    """The counts are checked as the command line is read, before any model is loaded."""
    with pytest.raises(SystemExit) as info:
        cli.main(["sample", "--model=nowhere", option])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_sample_model_not_in_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sample", "--model=gpt2", "--max-new-tokens=4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typedgpt sample: error: 'gpt2' is not a folder, and the Hugging Face")
    assert "hf download gpt2" in err


def test_sample_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["sample", "--model=a", "--checkpoint=b"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["sample"])
    assert "one of the arguments --checkpoint --model is required" in capsys.readouterr().err


def test_stream_waits_for_a_whole_character(capsys: pytest.CaptureFixture[str]) -> None:
    """A token that ends inside a UTF-8 character prints nothing until the rest arrives."""
    import numpy as np

    import typedgpt as tg

    stream = cli._TextStream(tg.ByteTokenizer())
    text = "aé日"
    data = list(text.encode())
    shown = []
    for byte in data:
        stream(np.array([byte], np.int32))
        shown.append(capsys.readouterr().out)
    assert shown == ["a", "", "é", "", "", "日"]
    stream.finish(data)
    assert capsys.readouterr().out == "\n"


# --------------------------------------------------------------------------------------------
# typedgpt explain --config NAME: every layer call as a tree of shapes, no weights allocated.
# --------------------------------------------------------------------------------------------


def test_explain_microgpt(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "--config", "microgpt", "--seq", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "microgpt: 1 layer, embed 16, 4 heads, vocab 27; 4,192 parameters "
        "(shapes only, never allocated); 5 tokens"
    )
    assert lines[1] == (
        "GPT.forward(tokens: int32[seq=5]) -> float32[seq, vocab=27]  [embed=16, positions=16]"
    )
    assert any("blocks[*]: Block(" in line and "× 1 layer (lax.scan)" in line for line in lines)


def test_explain_gpt2_defaults_to_the_whole_context(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "--config", "gpt2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "gpt2: 12 layers, embed 768, 12 heads, vocab 50257; 124,439,808 parameters "
        "(shapes only, never allocated); 1024 tokens\n"
    )
    assert "× 12 layers (lax.scan)" in out


def test_a_closed_pipe_ends_quietly() -> None:
    """`typedgpt explain | head -1`: the reader goes away before the output is written."""
    typedgpt = str(Path(sys.executable).parent / "typedgpt")
    command = [typedgpt, "explain", "--config", "microgpt", "--seq", "4"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    with process.stderr:
        errors = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert errors == ""


def test_explain_unknown_config_lists_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["explain", "--config", "gpt3"])
    assert info.value.code == 2
    assert (
        "invalid choice: 'gpt3' (choose from 'microgpt', 'gpt2', 'gpt2-medium', "
        "'gpt2-large', 'gpt2-xl')"
    ) in capsys.readouterr().err


def test_explain_sequence_too_long(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "--config", "microgpt", "--seq", "17"]) == 2
    assert capsys.readouterr().err == (
        "typedgpt explain: error: --seq 17 is outside 1 to max_seq_len=16 of microgpt: "
        "choose a length in that range\n"
    )


# --------------------------------------------------------------------------------------------
# The command line as a whole: --version, help, exit codes, Ctrl-C.
# --------------------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"typedgpt {version('typedgpt')}\n"


def test_python_m_typedgpt_is_the_command() -> None:
    from importlib.metadata import version

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "typedgpt", *argv]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    assert run("--version").stdout == f"typedgpt {version('typedgpt')}\n"
    missing = run()
    assert missing.returncode == 2
    assert "typedgpt: error: the following arguments are required: COMMAND" in missing.stderr


def test_every_command_describes_itself_and_its_defaults() -> None:
    """`typedgpt COMMAND -h` says what the command does, and states every default that is
    not None or off."""
    import argparse

    parser = cli.build_parser()
    commands = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    for name, command in commands.choices.items():
        assert command.description, name
        for action in command._actions:
            if action.default in (None, False, argparse.SUPPRESS):
                continue
            assert action.help is not None and "default" in action.help, (name, action.dest)


def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """0 clean, 1 errors in the code (a syntax error included), 2 usage."""
    clean, wrong, broken = tmp_path / "clean.py", tmp_path / "wrong.py", tmp_path / "broken.py"
    clean.write_text("x: int = 1\n", encoding="utf-8")
    wrong.write_text('x: int = "a"\n', encoding="utf-8")
    broken.write_text("def f(:\n", encoding="utf-8")
    assert cli.main(["check", str(clean)]) == 0
    assert cli.main(["check", str(wrong)]) == 1
    assert cli.main(["check", str(broken)]) == 1
    assert "[syntax]" in capsys.readouterr().out
    assert cli.main(["check", str(tmp_path / "nowhere.py")]) == 2
    assert "nowhere.py does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["notes.txt", "README.md"])
def test_check_refuses_a_file_that_is_not_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """mypy reads any file it is given as Python: prose would be reported as syntax errors
    of the user's code (exit 1), not as a mistaken command line."""
    clean, other = tmp_path / "clean.py", tmp_path / name
    clean.write_text("x: int = 1\n", encoding="utf-8")
    other.write_text("Some notes, not code.\n", encoding="utf-8")
    assert cli.main(["check", str(clean), str(other)]) == 2
    assert capsys.readouterr().err == (
        f"typedgpt check: error: {other} is not a Python file (.py or .pyi): pass Python files "
        "or folders to check\n"
    )


# Runs `typedgpt ARGS`, with Ctrl-C pressed while the first piece of a sample is printed:
# inside the callback that streams the tokens, where a KeyboardInterrupt once became an
# XlaRuntimeError (exit 2, a traceback in the message).
CTRL_C_MID_SAMPLE = """
import os, signal, sys
from typedgpt import cli
show = cli._TextStream.__call__
def show_then_interrupt(self, ids):
    show(self, ids)
    os.kill(os.getpid(), signal.SIGINT)
cli._TextStream.__call__ = show_then_interrupt
sys.exit(cli.main(sys.argv[1:]))
"""


def _run_script(script: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", script, *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_ctrl_c_mid_sample_exits_quietly(gpt2_folder: Path) -> None:
    argv = ["sample", f"--model={gpt2_folder}", "--prompt=the cat", "--max-new-tokens=8"]
    result = _run_script(CTRL_C_MID_SAMPLE, argv)
    assert (result.returncode, result.stderr) == (130, "typedgpt sample: interrupted\n")
    assert result.stdout.startswith("the cat")


# Runs `typedgpt ARGS` with Ctrl-C pressed while JAX is being imported, in the first second
# of a command (the `typedgpt` package imports JAX only once a command runs).
CTRL_C_WHILE_IMPORTING = """
import os, signal, sys
class PressCtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "jax":
            os.kill(os.getpid(), signal.SIGINT)
        return None
from typedgpt import cli
assert "jax" not in sys.modules
sys.meta_path.insert(0, PressCtrlC())
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["train", "--steps=1"], ["explain", "--config=microgpt"]])
def test_ctrl_c_while_importing_jax_exits_quietly(tmp_path: Path, command: list[str]) -> None:
    argv = [*command, f"--out={tmp_path / 'run'}"] if command[0] == "train" else command
    result = _run_script(CTRL_C_WHILE_IMPORTING, argv)
    assert (result.returncode, result.stderr) == (130, f"typedgpt {command[0]}: interrupted\n")
    assert not (tmp_path / "run").exists()


def _train_endlessly(tmp_path: Path, steps_per_call: int) -> tuple[Any, Path]:
    """Starts `typedgpt train` of a tiny model for a million steps; returns it and its --out."""
    data, out = tmp_path / "names.txt", tmp_path / "run"
    data.write_text(NAMES)
    options = ["--layers=1", "--embed=8", "--heads=2", "--seq-len=8", "--no-progress"]
    argv = [*options, "--steps=1000000", f"--steps-per-call={steps_per_call}"]
    argv.append("--checkpoint-every=1000000")  # the only checkpoint is the one Ctrl-C saves
    process = subprocess.Popen(
        [sys.executable, "-m", "typedgpt.cli", "train", f"--data={data}", f"--out={out}", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, out


def test_ctrl_c_while_training_saves_and_exits_130(tmp_path: Path) -> None:
    """A real SIGINT in the middle of `typedgpt train`: the last finished step is saved, with
    its records, and the command says how to continue."""
    import signal
    import time

    import typedgpt as tg

    process, out = _train_endlessly(tmp_path, steps_per_call=1)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and metrics.read_text().count("\n") >= 3):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    state = tg.load_checkpoint(out).train_state
    assert state is not None
    step = state["step"]
    assert 3 <= step < 1000000
    assert stdout.splitlines()[-1] == (
        f"Interrupted: saved a checkpoint at step {step} in {out}; continue with --resume."
    )
    records = [line for line in metrics.read_text().splitlines() if line]
    assert len(records) == step


def test_ctrl_c_while_the_first_call_compiles_stops_after_it(tmp_path: Path) -> None:
    """Ctrl-C pressed while JAX compiles the first call (the folder is made, no step is
    done): training stops once that call's steps are done, saves them and exits with 130."""
    import signal
    import time

    import typedgpt as tg

    process, out = _train_endlessly(tmp_path, steps_per_call=5)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not metrics.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Ctrl-C: training stops once the steps under way are done" in stderr
    state = tg.load_checkpoint(out).train_state
    assert state is not None
    records = [line for line in metrics.read_text().splitlines() if line]
    assert state["step"] == len(records) and state["step"] % 5 == 0
    assert stdout.splitlines()[-1] == (
        f"Interrupted: saved a checkpoint at step {state['step']} in {out}; continue with --resume."
    )
