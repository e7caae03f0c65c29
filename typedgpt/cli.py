"""The `typedgpt` command."""

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    import time

    import jax
    import jax.numpy as jnp
    from jaxtyping import TypeCheckError

    import typedgpt as tg

    config = tg.GPTConfig.microgpt(vocab_size=27)
    model = tg.GPT(config, key=jax.random.key(args.seed))
    n_params = sum(x.size for x in jax.tree.leaves(model))
    print(
        f"Built the microgpt preset: {config.num_layers} layer, embed {config.embed_dim}, "
        f"{config.num_heads} heads, {n_params:,} parameters."
    )
    tokens = jnp.arange(12, dtype=jnp.int32) % config.vocab_size
    start = time.perf_counter()
    logits = model(tokens).block_until_ready()
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100):
        logits = model(tokens)
    logits.block_until_ready()
    per_call = (time.perf_counter() - start) / 100
    print(
        f"Jitted forward: tokens {tokens.shape} -> logits {logits.shape}, "
        f"compiled in {compiled:.2f} s, then {per_call * 1e6:.0f} us per call."
    )

    print("\nA shape error, caught at the call that made it:")
    block = jax.tree.map(lambda x: x[0], model.blocks)  # layer 0 of the stacked blocks
    wrong = jnp.ones((5, 12))  # 5 positions of width 12, but the model's embed is 16
    print(f">>> block(jnp.ones({wrong.shape}))   # the blocks expect embed = {config.embed_dim}")
    try:
        block(wrong)
    except TypeCheckError as error:
        print(f"TypeCheckError: {error}")
    else:
        print("no error was raised: this is a bug in typedgpt", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `typedgpt` command."""
    parser = argparse.ArgumentParser(prog="typedgpt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build a model, run it, and show a caught shape error")
    demo.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
