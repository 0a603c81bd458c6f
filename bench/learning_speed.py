"""DirectBackprop's training rate in sample-periods per CPU second on one core (run: python -m bench.learning_speed).

Issue 17, item 6: the figure to compare is HDPO's published ~0.89 M sample-periods/s on one core
(/work/shared/references.md; Alvo, Russo & Kanoria 2023). One sample-period is one demand path advanced by one
period, warm-up periods included, in a training epoch (twin rollout with the gradient tape, backward pass, Adam
step). Each epoch is timed by the agent's own ``charts/epoch_seconds`` (the whole epoch: demand draw, rollout,
backward, step), read on CPU time instead of wall time (the bench points the agent module's clock at
``time.process_time``; one torch thread), so the load of the shared machine does not inflate it as it does the
wall-time ``bench.agents_throughput``; the median over the epochs after the first. Lost sales, p = 9, the
default DirectBackprop policy (MLP 64x64 with a base-stock head), 32 counted periods per path after 8 + 4 L
warm-up periods.

``--breakdown`` splits one batch's rollout and backward pass (B paths, the training periods, the agent's
untrained policy) into the twin with a one-parameter base-stock policy (the twin's own cost), the policy alone on
fixed observations over as many periods (forward and backward: the MLP's cost), and both as training runs them;
``--compile`` adds the policy under ``torch.compile`` and says whether its orders equal the eager policy's bit for
bit (they must, for a training run to stay reproducible).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS helper threads adding CPU time to the clock
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from bench.common import load_text  # noqa: E402

ENV_ID = "invgym/LostSales-v0"


def epoch_cpu(batch: int, lead_time: int, epochs: int, periods: int) -> float:
    """Median CPU seconds per DirectBackprop training epoch (after the first) with these settings."""
    import statistics
    import types

    import invgym.agents.direct_backprop as module
    from invgym.agents import DirectBackprop, DirectBackpropConfig

    cfg = DirectBackpropConfig(epochs=epochs, batch_size=batch, periods=periods, warmup=8 + 4 * lead_time,
                               eval_envs=8, eval_periods=10, eval_warmup=0)
    agent = DirectBackprop(ENV_ID, config=cfg, lead_time=lead_time, lost_sales_cost=9.0)
    wall = module.time
    module.time = types.SimpleNamespace(perf_counter=time.process_time)  # epoch_seconds on the CPU clock
    try:
        agent.fit()
    finally:
        module.time = wall
    return statistics.median(m["charts/epoch_seconds"] for m in agent.metrics[1:] if "charts/epoch_seconds" in m)


def breakdown(batch: int, lead_time: int, periods: int, compile_policy: bool, rounds: int = 5) -> None:
    """Print the median CPU seconds of one batch's rollout + backward, split into twin and policy."""
    import statistics

    from invgym.agents import DirectBackprop, DirectBackpropConfig

    warmup = 8 + 4 * lead_time
    cfg = DirectBackpropConfig(batch_size=batch, periods=periods, warmup=warmup)
    agent = DirectBackprop(ENV_ID, config=cfg, lead_time=lead_time, lost_sales_cost=9.0)
    twin, policy = agent.twin, agent._build_module()
    generator = torch.Generator().manual_seed(0)
    demand = torch.poisson(torch.full((batch, warmup + periods), 5.0), generator=generator)
    obs = torch.rand(batch, twin.observe(twin.initial_state(1, torch.float32)).shape[1], generator=generator) * 10
    level = torch.nn.Parameter(torch.tensor(3.0 * (lead_time + 1) * 5.0))

    def base_stock(o: torch.Tensor) -> torch.Tensor:
        return torch.relu(level - o.sum(dim=1, keepdim=True))

    def rollout(module) -> None:
        twin.rollout(module, demand, warmup=warmup).average_cost.backward()

    def policy_alone(module) -> None:
        total = torch.zeros(())
        for _ in range(warmup + periods):
            total = total + module(obs).sum()
        total.backward()

    cases = [("twin, base-stock policy (1 parameter)", lambda: rollout(base_stock)),
             ("policy alone (forward + backward)", lambda: policy_alone(policy)),
             ("twin + policy (a training batch)", lambda: rollout(policy))]
    note = ""
    if compile_policy:
        compiled = torch.compile(policy)
        start = time.process_time()
        policy_alone(compiled)
        note = f"torch.compile: {time.process_time() - start:.1f} CPU s to compile and run once"
        with torch.no_grad():
            same = torch.equal(policy(obs), compiled(obs))
        note += f"; its orders equal the eager policy's bit for bit: {same}"
        cases.append(("policy alone, torch.compile", lambda: policy_alone(compiled)))
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _, run in cases:
        run()  # warm-up
    for _ in range(rounds):
        for name, run in cases:
            start = time.process_time()
            run()
            times[name].append(time.process_time() - start)
    whole = statistics.median(times["twin + policy (a training batch)"])
    print(f"\none batch: B={batch}, {warmup + periods} periods (L={lead_time}), CPU s, median of {rounds} "
          "interleaved rounds")
    for name, _ in cases:
        med = statistics.median(times[name])
        print(f"  {name:<40} {med:8.4f}  {100 * med / whole:5.1f} % of the training batch")
    if note:
        print("  " + note)


def main() -> None:
    """Print one row per (L, B): CPU s per epoch and sample-periods per CPU second, next to HDPO's 0.89 M/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", nargs="*", type=int, default=[1024, 4096])
    parser.add_argument("--lead-times", nargs="*", type=int, default=[2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--periods", type=int, default=32)
    parser.add_argument("--breakdown", action="store_true", help="split a batch into twin and policy (see above)")
    parser.add_argument("--compile", action="store_true", help="with --breakdown: also the torch.compile policy")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"DirectBackprop on {ENV_ID}, torch {torch.__version__}, one thread, CPU time; {load_text()}")
    print(f"{'L':>3} {'B':>5} {'CPU s/epoch':>12} {'sample-periods/CPU s':>21} {'/ HDPO 0.89 M/s':>16}")
    for lead_time in args.lead_times:
        for batch in args.batches:
            per_epoch = epoch_cpu(batch, lead_time, args.epochs, args.periods)
            rate = batch * (8 + 4 * lead_time + args.periods) / per_epoch
            print(f"{lead_time:>3} {batch:>5} {per_epoch:>12.4f} {rate:>21,.0f} {rate / 0.89e6:>15.2f}x", flush=True)
    if args.breakdown:
        for lead_time in args.lead_times:
            for batch in args.batches:
                breakdown(batch, lead_time, args.periods, args.compile)


if __name__ == "__main__":
    main()
