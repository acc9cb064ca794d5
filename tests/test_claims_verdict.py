"""mmlib.claims.verdict on paired tests of hand-made predictions: shown, not shown, and not testable when
the runs are too few for the sign-flip test to reach alpha."""

import pandas as pd

from mmlib import claims, metrics
from tests.predictions import make_pred


def test_verdicts_of_paired_tests_on_folds_and_seeds():
    a = make_pred("a", lambda k: 0.85, seeds=(42, 43), rs=1)
    b = make_pred("b", lambda k: 0.45, seeds=(42, 43), rs=2)
    pred = pd.concat([a, b])
    r = metrics.paired_test(pred, "a", "b", "UA", n_boot=500)
    assert claims.verdict(r) == "shown: a > b"
    # one seed: 5 runs, the exact sign-flip test cannot go below 2 / 2^5; that is a design limit, not a finding
    five = metrics.paired_test(pred[pred["seed"] == 42], "a", "b", "UA", n_boot=500)
    assert claims.verdict(five) == "not testable: 5 runs (the sign-flip p cannot go below 0.0625)"
    assert claims.verdict({**r, "diff_lo": -0.01}) == "not shown"
