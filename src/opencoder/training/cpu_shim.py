"""Let megatron-core train on a machine without a GPU (laptops, CI), with the same code path as on GPUs.

megatron-core hard-codes CUDA in a few places on the training path: `device="cuda"` literals in the
optimizer, grad clipping and the causal mask, `torch.cuda.current_device()` in RoPE and the DDP grad
buffers, `torch.cuda.current_stream()` in grad sync, `torch.cuda.get_rng_state()` in activation
recomputation (which restores the RNG states around the recomputed forward), and asserts that
`tensor.type()` names a CUDA tensor. A torch function mode redirects those to the CPU; nothing in
megatron is patched on disk.
Installed only when CUDA is absent, and before megatron is imported.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode


def _is_cuda(device) -> bool:
    if device is None or isinstance(device, torch.Tensor):
        return False
    if isinstance(device, int):
        return True
    try:
        return torch.device(device).type == "cuda"
    except (RuntimeError, TypeError):
        return False


class _CudaToCpu(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if _is_cuda(kwargs.get("device")):
            kwargs["device"] = "cpu"
        if func is torch.Tensor.cuda:
            return args[0]
        if func is torch.Tensor.to and len(args) > 1 and _is_cuda(args[1]):
            args = (args[0], "cpu", *args[2:])
        if func is torch.Tensor.type and len(args) == 1 and not kwargs:
            return func(*args).replace("torch.", "torch.cuda.", 1)
        return func(*args, **kwargs)


class _NoStream:
    def wait_event(self, *args, **kwargs):
        pass

    def wait_stream(self, *args, **kwargs):
        pass

    def synchronize(self):
        pass


_installed = False


def install() -> bool:
    """Redirect megatron's CUDA uses to the CPU when there is no GPU; return whether it did."""
    global _installed
    if torch.cuda.is_available():
        return False
    if not _installed:
        torch.cuda.current_device = lambda: "cpu"
        torch.cuda.synchronize = lambda *args, **kwargs: None
        torch.cuda.current_stream = lambda *args, **kwargs: _NoStream()
        # no CUDA generator to save: recomputation restores the CPU one, which is the one in use
        torch.cuda.random.get_rng_state = torch.cuda.get_rng_state = lambda *args, **kwargs: torch.get_rng_state()
        _CudaToCpu().__enter__()
        _installed = True
    return True
