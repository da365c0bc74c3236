"""The public conformance suite: ``check_learner(learner)`` runs every check that fits the
learner on fresh copies of it and raises ``AssertionError`` at the first that fails, like
scikit-learn's ``check_estimator``. A new learner passes it before it joins the project.

>>> from streamlearn.checks import check_learner
>>> from streamlearn.models import LogisticRegression
>>> check_learner(LogisticRegression(bits=10))
>>> [check.__name__ for check in checks_for(LogisticRegression())][:2]
['check_is_registered', 'check_predict_learn_many_equals_one_event_calls']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlearn.base import ServesRows, Task
from streamlearn.checks import engine, families, learner
from streamlearn.checks.data import columns_of, labelled, messy_events
from streamlearn.checks.helpers import assert_same_state
from streamlearn.models.recommend.mf import Factorization

Check = Callable[[Callable[[], Any]], None]

GENERIC: tuple[Check, ...] = (
    learner.check_is_registered,
    learner.check_predict_learn_many_equals_one_event_calls,
    learner.check_learn_many_equals_repeated_learn_one,
    learner.check_state_round_trip_predicts_and_learns_identically,
    learner.check_clone_is_fresh_and_independent,
    learner.check_copies_and_pickles_continue_as_the_original,
    learner.check_inputs_are_not_mutated,
    learner.check_bad_values_never_make_weights_non_finite,
    learner.check_missing_values_are_ignored,
    learner.check_unsupported_types_raise_and_leave_the_model_untouched,
)
BANDIT: tuple[Check, ...] = (
    learner.check_is_registered,
    families.check_bandit_batches_equal_one_event_calls,
    families.check_bandit_state_round_trip_decides_and_learns_identically,
    families.check_bandit_clone_is_fresh_and_inputs_are_not_mutated,
    families.check_bandit_bad_input_never_makes_weights_non_finite,
    engine.check_run_stopped_at_a_checkpoint_and_resumed_ends_bit_identical,
)
RECOMMENDER: tuple[Check, ...] = (
    learner.check_is_registered,
    families.check_recommender_batches_equal_one_event_calls,
    families.check_recommender_state_round_trip_and_clone,
    families.check_recommender_bad_input_raises_and_leaves_the_model_untouched,
    engine.check_run_stopped_at_a_checkpoint_and_resumed_ends_bit_identical,
)
RANKER: tuple[Check, ...] = (
    learner.check_is_registered,
    families.check_ranker_batches_equal_one_event_calls_and_state_round_trips,
    families.check_ranker_bad_input_raises_and_never_makes_weights_non_finite,
    engine.check_run_stopped_at_a_checkpoint_and_resumed_ends_bit_identical,
)


ENGINE: tuple[Check, ...] = (
    engine.check_run_stopped_at_a_checkpoint_and_resumed_ends_bit_identical,
)


def checks_for(model: Any) -> tuple[Check, ...]:
    """The checks that fit ``model``'s kind of labels (and, for a learner the runner
    takes with one label per event, the engine's)."""
    if model.task == Task.BANDIT:
        return BANDIT
    if isinstance(model, Factorization):  # events are (user, item) pairs
        return RECOMMENDER
    if model.task == Task.RANKING:
        return RANKER
    return GENERIC + ENGINE if isinstance(model, ServesRows) else GENERIC


def check_learner(model: Any, make: Callable[[], Any] | None = None) -> None:
    """Run every check of :func:`checks_for` on fresh copies of ``model`` (``model.clone()``,
    or ``make()`` when given); raises ``AssertionError`` naming what broke."""
    factory = make if make is not None else model.clone
    for check in checks_for(model):
        try:
            check(factory)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__}: {exc}") from exc


__all__ = [
    "BANDIT",
    "ENGINE",
    "GENERIC",
    "RANKER",
    "RECOMMENDER",
    "assert_same_state",
    "check_learner",
    "checks_for",
    "columns_of",
    "labelled",
    "messy_events",
]
