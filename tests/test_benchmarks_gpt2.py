"""A tiny run of `benchmarks/gpt2_speed.py`: it must run both libraries and write its JSON.

The numbers of so small a run mean nothing; this checks the report, and that the two
libraries computed the same thing (same logits, same greedy tokens).
"""

import argparse
import functools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import gpt2_speed

LIBS = gpt2_speed.LIBRARIES
TARGETS = gpt2_speed.TARGETS


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_main_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "gpt2_speed.json"
    sizes = ["--layers", "2", "--embed", "32", "--heads", "4", "--vocab", "97"]
    sizes += ["--positions", "48", "--batch", "2", "--seq", "8", "--prompt", "4"]
    sizes += ["--new-tokens", "6", "--repeats", "2", "--check-repeats", "3"]
    code = gpt2_speed.main([*sizes, "--out", str(out), "--quiet"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["shapes"]["layers"] == 2 and report["shapes"]["parameters"] > 0
    for work, tokens in (("forward", 16), ("decode", 6), ("train", 16)):
        row = report[work]
        for library in ("typedgpt", "transformers"):
            assert len(row[library]["all_seconds"]) == 2
            assert len(row[library]["first_in_turn_seconds"]) == 2
            assert row[library]["per_second"] == pytest.approx(tokens / row[library]["seconds"])
        assert row["ratio"] == pytest.approx(
            row["typedgpt"]["per_second"] / row["transformers"]["per_second"]
        )
        assert row["met"] == (row["ratio"] >= gpt2_speed.TARGETS[work])
        first = {library: np.median(row[library]["first_in_turn_seconds"]) for library in LIBS}
        assert row["first_in_turn_ratio"] == pytest.approx(
            first["transformers"] / first["typedgpt"]
        )
    assert report["forward"]["max_abs_logit_difference"] < 1e-4
    assert report["device"] == "cpu" and report["dtype"] == "float32"
    assert report["peak_tflop_per_s"] is None  # no peak is assumed for a CPU: no MFU
    assert all(report[work][library]["mfu"] is None for work in TARGETS for library in LIBS)
    # Each library ran in a process of its own, which reported what it ran on.
    assert report["machine"]["typedgpt"]["jax_backend"] == "cpu"
    assert report["machine"]["transformers"]["torch_threads"] >= 1
    assert report["decode"]["same_leading_tokens"] == 6
    first = report["train"]["first_loss"]  # same weights and batch: the same loss
    assert first["typedgpt"] == pytest.approx(first["transformers"], rel=1e-5)
    assert set(report["check_overhead_us"]) == {
        "Linear",
        "LayerNorm",
        "RMSNorm",
        "MLP",
        "CausalSelfAttention",
        "Block",
    }
    assert all(math.isfinite(value) for value in report["check_overhead_us"].values())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_only_runs_the_measures_asked_for_in_bfloat16_with_mfu(tmp_path: Path) -> None:
    out = tmp_path / "gpt2_speed.json"
    sizes = ["--layers", "1", "--embed", "16", "--heads", "2", "--vocab", "31"]
    sizes += ["--positions", "16", "--batch", "2", "--seq", "5", "--repeats", "1"]
    sizes += ["--prompt", "4", "--new-tokens", "4", "--dtype", "bfloat16", "--peak-tflops", "2"]
    argv = [*sizes, "--only", "train", "--only", "decode", "--out", str(out), "--quiet"]
    assert gpt2_speed.main(argv) == 0
    report = json.loads(out.read_text())
    assert "train" in report and "decode" in report and "forward" not in report
    assert report["check_overhead_us"] == {}  # measured only in a full run
    assert report["dtype"] == "bfloat16" and report["peak_tflop_per_s"] == 2.0
    assert report["peak_source"] == "--peak-tflops"
    first = report["train"]["first_loss"]  # both in bfloat16, from the same weights
    assert first["typedgpt"] == pytest.approx(first["transformers"], rel=1e-2)
    assert report["decode"]["same_leading_tokens"] >= 1
    for work in ("train", "decode"):
        row = report[work]
        assert row["ratio"] > 0
        for library in LIBS:
            flop_per_s = row["model_flops"] / row[library]["seconds"]
            assert row[library]["model_tflop_per_s"] == pytest.approx(flop_per_s / 1e12)
            assert row[library]["mfu"] == pytest.approx(flop_per_s / 2e12)


def test_model_flops_count_the_products_of_gpt2() -> None:
    gpt2 = {"layers": 12, "embed": 768, "vocab": 50257}
    args = argparse.Namespace(batch=8, seq=256, prompt=16, new_tokens=128)
    # GPT-2 124M on 8 x 256 tokens: 256.5 MFLOP a token forward, three times that to train.
    per_token = 12 * (24 * 768**2 + 4 * 256 * 768) + 2 * 768 * 50257
    assert gpt2_speed.model_flops(gpt2, "forward", args) == 2048 * per_token
    assert gpt2_speed.model_flops(gpt2, "train", args) == 3 * 2048 * per_token
    assert gpt2_speed.model_flops(gpt2, "train", args) == pytest.approx(1.576e12, rel=1e-3)
    # Decoding: the prompt in one pass, then 127 tokens each attending to what came before.
    tiny = {"layers": 1, "embed": 2, "vocab": 3}
    short = argparse.Namespace(prompt=2, new_tokens=3)
    token = {n: 24 * 4 + 4 * n * 2 + 2 * 2 * 3 for n in (2, 3, 4)}
    assert gpt2_speed.model_flops(tiny, "decode", short) == 2 * token[2] + token[3] + token[4]


def test_the_peak_is_the_option_else_a_listed_gpu_s() -> None:
    def peak(device: str, dtype: str, name: str, option: float | None = None) -> object:
        args = argparse.Namespace(device=device, dtype=dtype, peak_tflops=option)
        return gpt2_speed.peak_flops(args, name)

    assert peak("gpu", "bfloat16", "NVIDIA H200") == (989e12, "datasheet, H200 dense bfloat16")
    assert peak("gpu", "float32", "NVIDIA H100 80GB HBM3")[0] == 67e12  # type: ignore[index]
    assert peak("gpu", "bfloat16", "NVIDIA GeForce RTX 4090") == (None, None)
    assert peak("cpu", "float32", "cpu") == (None, None)
    assert peak("cpu", "float32", "cpu", 1.5) == (1.5e12, "--peak-tflops")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_gpu_without_a_gpu_says_so(tmp_path: Path) -> None:
    argv = [*TINY, "--device", "gpu", "--out", str(tmp_path / "gpu.json"), "--quiet"]
    with pytest.raises(RuntimeError, match="torch sees no CUDA device"):
        gpt2_speed.main(argv)
    assert not (tmp_path / "gpu.json").exists()


def test_each_turn_runs_the_call_twice_and_measures_the_second() -> None:
    order: list[str] = []

    def call(name: str) -> float:
        order.append(name)
        return float(len(order))  # the seconds returned: the call's place in the order

    calls = {name: functools.partial(call, name) for name in ("a", "b")}
    times = gpt2_speed.alternate(calls, 2, lambda line: None)
    assert order == ["a", "b", "a", "a", "b", "b", "a", "a", "b", "b"]  # warm-ups, 2 rounds
    assert times == {"a": ([3.0, 7.0], [4.0, 8.0]), "b": ([5.0, 9.0], [6.0, 10.0])}


def test_sizes_that_do_not_fit_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        gpt2_speed.main(["--positions", "16", "--seq", "16"])
    assert "must fit in --positions" in capsys.readouterr().err


def test_machine_records_the_malloc_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # They change both libraries' step times, so a report must say which were set.
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "0")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    malloc = gpt2_speed.machine()["malloc_environment"]
    assert malloc["MALLOC_MMAP_MAX_"] == "0"
    assert malloc["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"
    assert "MALLOC_TRIM_THRESHOLD_" not in malloc
    assert all(name.startswith("MALLOC_") or name == "GLIBC_TUNABLES" for name in malloc)


def test_machine_records_the_cpu_features(tmp_path: Path) -> None:
    # The ratios depend on the processor's matrix-product kernels: AVX-512 and AMX matter.
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 fma avx512f amx_tile\n\n"
        "processor\t: 1\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 fma avx512f amx_tile\n"
    )
    expected = {"model": "Test CPU", "flags": ["avx2", "fma", "avx512f", "amx_tile"]}
    assert gpt2_speed.cpu(info) == expected
    assert gpt2_speed.cpu(tmp_path / "missing")["flags"] is None  # not Linux: unknown
    assert set(gpt2_speed.machine()["cpu"]) == {"model", "flags"}


SHAPES = {"layers": 1, "embed": 16, "heads": 2, "vocab": 31, "positions": 16}
SETUP: dict[str, Any] = {
    "shapes": SHAPES,
    "tokens": np.zeros((1, 5), np.int32),
    "prompt": np.zeros(2, np.int32),
    "new_tokens": 2,
    "device": "cpu",
    "dtype": "float32",
}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_worker_that_fails_to_set_up_reports_why(tmp_path: Path) -> None:
    setup = {**SETUP, "folder": str(tmp_path)}
    setup["shapes"] = {**SHAPES, "embed": 15}  # not a multiple of 2 heads
    with pytest.raises(RuntimeError, match="transformers process failed while setting up") as e:
        gpt2_speed.Worker("transformers", setup)
    assert "divisible by num_heads" in str(e.value)  # transformers' own error, passed on


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_worker_that_dies_is_named_with_its_exit_code(tmp_path: Path) -> None:
    worker = gpt2_speed.Worker("transformers", {**SETUP, "folder": str(tmp_path)})
    try:
        assert (tmp_path / "config.json").is_file()  # it saved the model it made
        assert worker("info")["parameters"] > 0
        worker.process.kill()
        worker.process.join()
        with pytest.raises(RuntimeError, match=r"transformers process ended \(exit code -9\)"):
            worker("forward")
    finally:
        worker.close()
    assert not worker.process.is_alive()


def refuse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `main(argv)`, which must exit with 2 before it measures anything; its stderr."""
    with pytest.raises(SystemExit) as exit_info:
        gpt2_speed.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


TINY = ["--layers", "1", "--embed", "16", "--heads", "2", "--vocab", "31", "--positions", "16"]
TINY += ["--batch", "2", "--seq", "5", "--prompt", "4", "--new-tokens", "4", "--repeats", "1"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--check-repeats", "0", "--check-repeats must be at least 1, got 0"),
        ("--prompt", "0", "--prompt must be at least 1, got 0"),
        ("--new-tokens", "0", "--new-tokens must be at least 1, got 0"),
        ("--batch", "0", "--batch must be at least 1, got 0"),
        ("--seq", "0", "--seq must be at least 1, got 0"),
        ("--layers", "0", "--layers must be at least 1, got 0"),
        ("--vocab", "0", "--vocab must be at least 1, got 0"),
        ("--embed", "-4", "--embed must be at least 1, got -4"),
        ("--heads", "3", "--embed 16 is not divisible by --heads 3"),
        ("--repeats", "0", "--repeats must be at least 1, got 0"),
        ("--peak-tflops", "0", "--peak-tflops must be a positive number, got 0.0"),
        ("--peak-tflops", "nan", "--peak-tflops must be a positive number, got nan"),
        ("--dtype", "float16", "invalid choice: 'float16'"),
    ],
)
def test_bad_options_are_refused_before_any_work(
    option: str,
    value: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def started(*args: object) -> None:
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(gpt2_speed, "machine", started)
    monkeypatch.setattr(gpt2_speed, "Worker", started)
    assert message in refuse([*TINY, option, value, "--quiet"], capsys)


def test_help_shows_the_default_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gpt2_speed.main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # as one line, however argparse wraps
    defaults = {"--layers": 12, "--embed": 768, "--heads": 12, "--vocab": 50257}
    defaults |= {"--positions": 1024, "--repeats": 5, "--check-repeats": 200}
    for option, default in defaults.items():
        metavar = option[2:].upper().replace("-", "_")
        found = re.search(rf"{option} {metavar} [^()]*\(default (\d+)\)", text)
        assert found is not None and int(found[1]) == default, (option, text)
