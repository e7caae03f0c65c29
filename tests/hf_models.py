"""Helpers shared by the tests that compare typedgpt with Hugging Face transformers."""

import torch
from transformers import GPT2LMHeadModel


def randomize_gpt2(model: GPT2LMHeadModel) -> None:
    """Draw every parameter afresh, larger than transformers' init, norms around 1 and 0.

    transformers initialises the norms to exactly 1 and 0 and the biases to 0, which would
    leave their loading and their arithmetic untested.
    """
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".ln_" in name or name.startswith("transformer.ln_f"):
                base = 1.0 if name.endswith(".weight") else 0.0
                param.copy_(base + 0.1 * torch.randn_like(param))
            elif name.endswith(".bias"):
                param.copy_(0.05 * torch.randn_like(param))
            else:
                param.copy_(0.1 * torch.randn_like(param))
