"""The chapters' claim guard: a false claim fails with the sentence and its numbers; bad use is refused."""

import numpy as np
import pytest

from attnbook.book import ClaimError, claim


def test_a_supported_claim_passes_and_a_broken_one_names_the_sentence():
    claim(np.float64(0.3) < 0.5, "loss drops below half", loss=0.3)
    with pytest.raises(ClaimError, match="“loss drops below half”.*loss = 0.7"):
        claim(bool(np.float64(0.7) < 0.5), "loss drops below half", loss=np.float64(0.7))


def test_claim_refuses_what_is_not_a_test():
    with pytest.raises(TypeError, match="holds"):
        claim([1], "a list is not a test")  # truthy, but not a bool: a typo, not a claim
    with pytest.raises(TypeError, match="sentence"):
        claim(True, "  ")
