"""What a training run reports: one JSON record per step in `metrics.jsonl`, a plot of
the losses in `loss.png`, and a progress bar."""

import json
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"


def write_records(metrics: Any, records: list[dict[str, Any]]) -> None:
    metrics.write("".join(json.dumps(record) + "\n" for record in records))
    metrics.flush()


def truncate_metrics(path: Path, step: int) -> None:
    """Drop records past the checkpoint's step: a resumed run writes them again."""
    if path.exists():
        kept = "".join(
            line + "\n" for line, record in _read_metrics(path) if record["step"] <= step
        )
        if kept.encode() != path.read_bytes():  # records past `step`, or a cut-off last line
            from ._checkpoint import atomic_write

            atomic_write(path, kept.encode())


def _read_metrics(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The lines of a metrics file with their records.

    A last line that is not a record is dropped: it is what a crash in the middle of an append
    leaves, and it is past the last checkpoint, which is saved after its records.
    """
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    read = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not (
            isinstance(record, dict)
            and isinstance(record.get("step"), int)
            and isinstance(record.get("loss"), int | float)
        ):
            if number == len(lines):
                break
            raise ValueError(
                f"{path}, line {number}, is not a metrics record ({line[:60]!r}): "
                "delete that line, or the file"
            )
        read.append((line, record))
    return read


def progress_bar(enabled: bool, start: int, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)


def plot_losses(metrics_path: Path, png_path: Path) -> None:
    """Draw the training and validation losses recorded in a metrics JSONL file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, losses, val_steps, val_losses = [], [], [], []
    if metrics_path.exists():
        for _, record in _read_metrics(metrics_path):
            steps.append(record["step"])
            losses.append(record["loss"])
            if "val_loss" in record:
                val_steps.append(record["step"])
                val_losses.append(record["val_loss"])
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(steps, losses, label="train", linewidth=0.8)
    if val_steps:
        axes.plot(val_steps, val_losses, "o-", label="validation")
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats per token)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
