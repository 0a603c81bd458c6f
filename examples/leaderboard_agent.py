"""A leaderboard submission: a file with ``make_agent(env)`` returning ``obs batch -> action batch``.

Submit it on the lost-sales tracks (public seeds; writes ``leaderboard/results/capped-base-stock-example.json``
and re-renders the board):

    invgym leaderboard submit --agent examples/leaderboard_agent.py:make_agent --name capped-base-stock-example
        --track lost-sales --track long-lead

(one command, wrapped here).

``make_agent`` is called once per instance with that instance's env (``gymnasium.make``), so an agent may fit or
train itself on it; here it fits Xin's (2021) capped base-stock policy on simulated demand. Replace the body with
your own agent: a trained SB3 model (``lambda obs: model.predict(obs, deterministic=True)[0]``), a torch module,
a rule. Actions must lie in ``env.action_space``; the leaderboard refuses anything else and never clips.
"""

from __future__ import annotations

from typing import Any

from invgym.baselines import CappedBaseStock


def make_agent(env: Any) -> Any:
    """Return the capped base-stock policy fitted to ``env``'s lost-sales instance."""
    config = env.unwrapped.config
    if type(config).__name__ != "LostSalesConfig":
        raise ValueError(f"this example agent plays the lost-sales tracks only; got {type(config).__name__}.")
    return CappedBaseStock.fit(config)  # a FittedPolicy is itself callable: obs batch -> order batch
