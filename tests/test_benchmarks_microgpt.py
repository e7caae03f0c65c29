"""Tests for `benchmarks/microgpt_parity.py`: its helpers, and a short run of `main`.

The short run trains on 200 made-up names written to a temporary folder (never on the real
names.txt) for a handful of steps, and checks the JSON it writes, not the numbers in it.
"""

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import typedgpt as tg
from benchmarks import microgpt_parity as bench
from benchmarks.microgpt_reference import train_reference

SYLLABLES = ("ka", "ri", "mo", "lu", "sen", "ta", "vi", "no")


def test_moving_average_is_a_trailing_mean() -> None:
    assert bench.moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 2) == [1.0, 1.5, 2.5, 3.5, 4.5]
    assert bench.moving_average([4.0, 2.0, 6.0], 10) == [4.0, 3.0, 4.0]
    assert bench.moving_average([3.0, 1.0], 1) == [3.0, 1.0]
    assert bench.moving_average([], 5) == []


def test_moving_average_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window must be at least 1, got 0"):
        bench.moving_average([1.0], 0)


def test_final_loss_is_the_mean_of_the_last_steps() -> None:
    losses = [10.0] * 100 + [2.0] * 50
    assert bench.final_loss(losses) == 2.0
    assert bench.final_loss([1.0, 3.0], window=50) == 2.0
    with pytest.raises(ValueError, match="no losses"):
        bench.final_loss([])


def test_real_positions_count_targets_up_to_seq_len() -> None:
    text = "ab\n" + "x" * 30 + "\n"
    tokenizer = tg.CharTokenizer.from_text(text)
    dataset = tg.TextDataset.from_text(text, tokenizer)
    # "ab" has 3 targets (a, b, BOS); the long name is cut to seq_len = 16 targets.
    assert bench.real_positions_per_row(dataset, 16) == (3 + 16) / 2


def test_train_config_is_microgpts_adam() -> None:
    config = bench.microgpt_train_config(steps=1000, batch_size=1, seed=0)
    assert (config.learning_rate, config.beta1, config.beta2, config.eps) == (
        0.01,
        0.85,
        0.99,
        1e-8,
    )
    assert (config.weight_decay, config.warmup_steps, config.grad_clip) == (0.0, 0, None)
    assert (config.decay, config.final_lr_fraction) == ("linear", 0.0)
    assert (config.batch_size, config.seq_len) == (1, 16)
    assert float(config.schedule()(500)) == pytest.approx(0.005)


@pytest.mark.slow
def test_main_writes_the_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = ["".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 4)))) for _ in range(200)]
    data = tmp_path / "names.txt"
    data.write_text("\n".join(names) + "\n")
    out = tmp_path / "results" / "parity.json"

    code = bench.main(
        [
            "--data",
            str(data),
            "--out",
            str(out),
            "--steps",
            "6",
            "--repeats",
            "1",
            "--batch-sizes",
            "4",
            "--throughput-steps",
            "6",
            "--steps-per-call",
            "2",
            "--num-samples",
            "3",
            "--seed",
            "3",
        ]
    )

    assert code == 0
    assert out.with_suffix(".png").stat().st_size > 0
    report = json.loads(out.read_text())
    batch1 = report["batch1"]
    assert batch1["batch_size"] == 1
    assert len(batch1["losses"]) == len(batch1["smoothed_losses"]) == 6
    assert batch1["final_loss"] == pytest.approx(float(np.mean(batch1["losses"])))
    assert batch1["positions_per_step"] == 16
    assert 1 < batch1["real_tokens_per_step"] <= 16
    assert len(batch1["runs"]) == 1 and batch1["runs"][0]["timed_steps"] == 2
    assert batch1["tokens_per_s"] > 0
    assert batch1["positions_per_s"] > batch1["tokens_per_s"]
    best = report["throughput"]["best"]
    assert best["batch_size"] == 4 and best["positions_per_step"] == 64
    assert [row["batch_size"] for row in report["throughput"]["sweep"]] == [4]
    assert report["speedup_batched"] == pytest.approx(best["tokens_per_s"] / 26.0)
    assert isinstance(report["goal_met"], bool)
    samples = report["samples"]
    assert samples["temperature"] == 0.5 and len(samples["names"]) == 3
    assert all(set(name) <= set("".join(SYLLABLES)) for name in samples["names"])
    parity = report["loss_parity"]
    assert len(parity["typedgpt_final_losses"]) == len(parity["microgpt_final_losses"]) == 1
    assert parity["typedgpt_final_loss"] == pytest.approx(batch1["final_loss"])
    assert parity["final_loss_gap"] == pytest.approx(
        parity["typedgpt_final_loss"] - parity["microgpt_final_loss"]
    )
    assert parity["met"] == (
        abs(parity["final_loss_gap"]) <= 0.1 and abs(parity["loss_on_all_names_gap"]) <= 0.1
    )
    # Six steps barely move either model from the uniform guess over the vocabulary.
    uniform = math.log(report["data"]["vocab_size"])
    assert parity["microgpt_loss_on_all_names"] == pytest.approx(uniform, abs=0.5)
    assert report["microgpt"]["tokens_per_s"] == 26.0
    assert report["data"]["documents"] == 200
    assert report["model_config"]["num_layers"] == 1
    assert report["train_config"]["learning_rate"] == 0.01
    # The config of the batch-1 run that was made, not the defaults.
    assert report["train_config"]["steps_per_call"] == 2
    assert report["train_config"]["seed"] == 3
    assert report["train_config"]["steps"] == 6
    assert math.isfinite(report["wall_s"])


def test_timed_train_times_the_calls_between_the_first_and_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fake tg.train on a fake clock: each step of a call takes 1 s; calls of 2 steps end
    # at steps 2, 4, 6 and 7 (the last is shorter), so steps 3 to 6 take 4 s.
    clock = [0.0]
    text = "kari\nmoru\n"
    tokenizer = tg.CharTokenizer.from_text(text)
    dataset = tg.TextDataset.from_text(text, tokenizer, mode="lines")

    def fake_train(*args: object, config: tg.TrainConfig, on_step: Any, **kwargs: object) -> Any:
        for start in range(0, config.steps, config.steps_per_call):
            stop = min(start + config.steps_per_call, config.steps)
            clock[0] += stop - start
            for step in range(start + 1, stop + 1):
                on_step(step, 1.0)
        return SimpleNamespace(losses=[1.0] * config.steps, model=None)

    monkeypatch.setattr(tg, "train", fake_train)
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    config = tg.GPTConfig.microgpt(vocab_size=tokenizer.vocab_size)
    run = bench.timed_train(
        config, dataset, tokenizer, steps=7, batch_size=3, seed=0, steps_per_call=2
    )
    assert (run.timed_steps, run.timed_s, run.first_call_s) == (4, 4.0, 2.0)
    assert run.positions_per_s == pytest.approx(3 * 16)  # 3 rows per second, 16 positions


def write_names(tmp_path: Path) -> Path:
    data = tmp_path / "names.txt"
    data.write_text("kari\nmoru\nsen\n")
    return data


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "5"], "--steps must be at least 3 x --steps-per-call = 150, got 5"),
        (["--throughput-steps", "20"], "--throughput-steps must be at least 3 x --steps-per-call"),
        (["--steps-per-call", "0"], "--steps-per-call must be at least 1, got 0"),
        (["--steps-per-call", "400"], "--steps must be at least 3 x --steps-per-call = 1200"),
        (["--seed", "-1"], "--seed must be from 0 to 4294967293 "),
        (["--seed", "4294967294"], "--seed must be from 0 to 4294967293 "),
        (["--num-samples", "0"], "--num-samples must be at least 1, got 0"),
        (["--temperature", "-1"], "--temperature must be a finite number from 0 (greedy)"),
        (["--temperature", "nan"], "--temperature must be a finite number from 0 (greedy)"),
        (["--repeats", "0"], "--repeats must be at least 1, got 0"),
    ],
)
def test_bad_options_are_refused_before_any_work(
    options: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def started() -> None:
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(bench, "machine", started)
    out = tmp_path / "parity.json"
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--data", str(write_names(tmp_path)), "--out", str(out), *options])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_data_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def started() -> None:
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(bench, "machine", started)
    missing = tmp_path / "no_names.txt"
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--data", str(missing), "--out", str(tmp_path / "parity.json")])
    assert exit_info.value.code == 2
    assert f"--data {missing} is not a file" in capsys.readouterr().err


def test_reference_is_deterministic_and_learns() -> None:
    names = ["kari", "moru", "sen", "tavi", "nolu", "rita"] * 5
    first = train_reference(names, steps=60, seed=1)
    again = train_reference(names, steps=60, seed=1)
    assert first.losses == again.losses
    assert len(first.losses) == 60
    assert np.mean(first.losses[-10:]) < np.mean(first.losses[:10]) - 0.5
    assert first.loss_on_all_names < math.log(len(set("".join(names))) + 1)


def test_reference_rejects_no_names() -> None:
    with pytest.raises(ValueError, match="no names"):
        train_reference([])
