"""Prognostic accuracy metrics against known failure times: RMSE, PHM08 score, interval coverage
and alpha-lambda accuracy (Saxena et al., 2008/2010)."""

from __future__ import annotations

import numpy as np

__all__ = ["alpha_lambda_accuracy", "interval_coverage", "phm08_score", "rmse"]


def _paired(predicted: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predicted = np.asarray(predicted, dtype=float).ravel()
    true = np.asarray(true, dtype=float).ravel()
    if predicted.shape != true.shape or predicted.size == 0:
        raise ValueError(
            f"predicted ({predicted.size}) and true ({true.size}) RUL must be non-empty and "
            "of equal length"
        )
    if not (np.isfinite(predicted).all() and np.isfinite(true).all()):
        raise ValueError("predicted and true RUL must be finite (no NaN/inf)")
    return predicted, true


def rmse(predicted: np.ndarray, true: np.ndarray) -> float:
    """sqrt(mean((predicted - true)^2))."""
    predicted, true = _paired(predicted, true)
    return float(np.sqrt(np.mean((predicted - true) ** 2)))


def phm08_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """PHM08 challenge score, summed over units: with d = predicted - true,
    exp(-d/13) - 1 for early (d < 0) and exp(d/10) - 1 for late predictions (late costs more)."""
    predicted, true = _paired(predicted, true)
    d = predicted - true
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def interval_coverage(low: np.ndarray, high: np.ndarray, true: np.ndarray) -> float:
    """Fraction of true values inside [low, high]."""
    low, true = _paired(low, true)
    high, _ = _paired(high, true)
    if (low > high).any():
        raise ValueError("interval_coverage: every low bound must be <= its high bound")
    return float(np.mean((true >= low) & (true <= high)))


def alpha_lambda_accuracy(
    times: np.ndarray,
    predicted: np.ndarray,
    failure_time: float,
    *,
    alpha: float = 0.2,
    lambdas: tuple[float, ...] = (0.25, 0.5, 0.75),
) -> dict[float, bool]:
    """Alpha-lambda accuracy of one unit's RUL predictions over time.

    With t_s = times[0] and t_lambda = t_s + lambda (failure_time - t_s), the prediction made at
    the last time <= t_lambda is accurate when it lies within (1 +/- alpha) of the true RUL
    failure_time - t_lambda. Returns {lambda: accurate}.
    """
    times, predicted = _paired(times, predicted)
    if np.any(np.diff(times) <= 0):
        raise ValueError("alpha_lambda_accuracy: times must be strictly increasing")
    if not failure_time > times[0]:
        raise ValueError("alpha_lambda_accuracy: failure_time must come after the first time")
    result: dict[float, bool] = {}
    for lam in lambdas:
        t_lam = times[0] + lam * (failure_time - times[0])
        index = int(np.searchsorted(times, t_lam, side="right")) - 1
        true_rul = failure_time - times[index]
        result[lam] = bool(abs(predicted[index] - true_rul) <= alpha * true_rul)
    return result
