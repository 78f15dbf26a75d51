"""The paper's warmup-stable-decay (WSD) learning rate, on megatron-core's `OptimizerParamScheduler`.

Pretraining warms up linearly to the peak and holds it (the paper decays only while annealing;
`decay_steps` > 0 would decay at the end of pretraining too). Annealing starts at the peak and
decays to `min_lr` over all its steps; megatron's "exponential" WSD decay is
lr = min + (peak − min)·(2·0.5^t − 1), t going 0 → 1, which ends exactly at `min_lr`.
An SFT stage warms up linearly and decays by cosine over its own steps
(paper 5.3). Steps count optimizer steps. The scheduler's first step runs at `init_lr` (0), as in Megatron-LM.
"""

from __future__ import annotations


def wsd_scheduler(optimizer, *, peak_lr: float, min_lr: float, steps: int, warmup_steps: int,
                  decay_steps: int, decay_style: str, weight_decay: float):
    """A WSD scheduler over `steps` optimizer steps: warmup, constant peak, decay to `min_lr`."""
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    if not 0 <= warmup_steps < steps or not 0 <= decay_steps <= steps - warmup_steps:
        raise ValueError(
            f"schedule: need 0 <= warmup_steps ({warmup_steps}) < steps ({steps}) and "
            f"0 <= decay_steps ({decay_steps}) <= steps - warmup_steps"
        )
    return OptimizerParamScheduler(
        optimizer,
        init_lr=0.0 if warmup_steps else peak_lr,
        max_lr=peak_lr,
        min_lr=min_lr,
        lr_warmup_steps=warmup_steps,
        lr_decay_steps=steps,
        lr_decay_style="WSD",
        wsd_decay_steps=decay_steps,
        lr_wsd_decay_style=decay_style,
        start_wd=weight_decay,
        end_wd=weight_decay,
        wd_incr_steps=steps,
        wd_incr_style="constant",
    )


def own_lr_bounds(scheduler) -> None:
    """Give every parameter group the scheduler's peak and minimum learning rate.

    megatron-core's optimizer stores the bounds of its config (`max_lr`, `min_lr`: the pretrain values)
    in each parameter group, restores them with its checkpoint, and its scheduler prefers them to its
    own: without this an anneal with its own `min_lr` would decay to the pretrain one.
    """
    for group in scheduler.optimizer.param_groups:
        group["max_lr"], group["min_lr"] = scheduler.max_lr, scheduler.min_lr


def cosine_scheduler(optimizer, *, peak_lr: float, min_lr: float, steps: int, warmup_steps: int,
                     weight_decay: float):
    """Linear warmup to the peak, then cosine decay to `min_lr` at `steps` (an SFT stage)."""
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    if not 0 <= warmup_steps < steps:
        raise ValueError(f"schedule: need 0 <= warmup_steps ({warmup_steps}) < steps ({steps})")
    return OptimizerParamScheduler(
        optimizer, init_lr=0.0 if warmup_steps else peak_lr, max_lr=peak_lr, min_lr=min_lr,
        lr_warmup_steps=warmup_steps, lr_decay_steps=steps, lr_decay_style="cosine",
        start_wd=weight_decay, end_wd=weight_decay, wd_incr_steps=steps, wd_incr_style="constant",
    )


def sft_warmup(warmup_steps: int, steps: int) -> int:
    """The stage's warmup, at most a tenth of its steps: the step count follows from the data, and a
    small instruction set must still decay (the run logs when the cap applies)."""
    return min(warmup_steps, steps // 10)


def stage_scheduler(optimizer, stage: str, params: dict, steps: int | None = None):
    """The scheduler of `stage` ("pretrain", "anneal", or an SFT stage over `steps`) from the rule's params."""
    train = params["train"]
    if "sft" in params:
        return cosine_scheduler(
            optimizer, peak_lr=train["lr"], min_lr=train["min_lr"], steps=steps,
            warmup_steps=sft_warmup(params["sft"]["warmup_steps"], steps), weight_decay=train["weight_decay"],
        )
    if stage == "pretrain":
        return wsd_scheduler(
            optimizer, peak_lr=train["lr"], min_lr=train["min_lr"], steps=train["steps"],
            warmup_steps=train["warmup_steps"], decay_steps=train["decay_steps"],
            decay_style=train["decay_style"], weight_decay=train["weight_decay"],
        )
    anneal = params["anneal"]
    return wsd_scheduler(
        optimizer, peak_lr=train["lr"], min_lr=anneal["min_lr"], steps=anneal["steps"],
        warmup_steps=0, decay_steps=anneal["steps"], decay_style=anneal["decay_style"],
        weight_decay=train["weight_decay"],
    )
