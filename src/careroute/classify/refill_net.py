"""A learned second reading of a refill: P(a critical medicine has run out, or runs out today).

The urgent items the blind rounds missed most often were one kind: a refill of a critical medicine
(a transplant drug, insulin, an anticonvulsant) running out, told in words the out-of-medicine
phrases did not know yet ("I only have tonight's dose", "he has only for tonight, tomorrow
nothing"). Each was mended with a phrase in ``refills.py``, and the next week brought new words.

This net reads the whole message of a refill that names a critical medicine: word 1-2 grams,
TF-IDF and a logistic regression (the same kind of model as the urgency net, ``urgency_net.py``),
trained on every labelled refill that names one, urgent (out, or out today) against routine
(enough left). "tonight", "only", "nothing after", "last" count together however they are said.

Like the urgency net it only raises: ``classify`` consults it only for a refill naming a critical
medicine that the phrases left routine, and it raises it to urgent (so the refill is worked today,
by the on-call clinician out of hours); it never lowers and never reads labs, prior-auth updates or
anything that is not a refill. Its threshold is chosen leave-one-set-out by
``scripts/train_classifier.py``: the lowest at which nets that never saw a set would raise at most
SHIPPED_BUDGET of all the routine items of the labelled sets. Trained with scikit-learn, stored as
plain JSON, applied with numpy alone.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from .urgency_net import UrgencyNet

#: The shipped net, package data beside the urgency net.
SHIPPED = "model/refill_net.json"
KIND = "refill_net"
#: Word 1-2 grams at C=10, as the urgency net; C from 3 to 30 caught the same held-out urgent
#: refills leave-one-set-out, and character n-grams were not needed for medicine names the
#: lexicon already reads.
SHIPPED_C = 10.0
#: At most this share of all routine items may be raised (out of set): about one in four hundred.
#: A raised refill costs a clinician a look today; a missed one costs a transplant patient a dose.
SHIPPED_BUDGET = 0.0025


def teaches_refill_net(tag: str, names_critical_medicine: bool) -> bool:
    """Whether a labelled item trains the net: a refill that names a critical medicine."""
    return tag == "medication_refill" and names_critical_medicine


@functools.cache
def shipped_refill_net() -> UrgencyNet:
    """The net shipped as package data (``scripts/train_classifier.py`` writes it)."""
    text = resources.files("careroute.classify").joinpath(SHIPPED).read_text(encoding="utf-8")
    net = UrgencyNet.from_dict(json.loads(text))
    if net.kind != KIND:
        raise ValueError("the shipped refill net file is not a refill net")
    return net
