from gcl.methods import METHODS
from gcl.methods.base import GENERIC_TUNING_HINT, Method


def test_every_method_declares_a_tuning_hint():
    assert Method.tuning_hint == GENERIC_TUNING_HINT
    for name, cls in METHODS.items():
        assert isinstance(cls.tuning_hint, str) and cls.tuning_hint, name
    # a method with a contrastive weight tells how to tame it
    for name, cls in METHODS.items():
        if cls.can("cl_weight"):
            assert cls.tuning_hint != GENERIC_TUNING_HINT, name
