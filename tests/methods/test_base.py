"""The method contract (gcl.methods.base): declared capabilities, checked once."""
import pytest

from gcl.methods import METHODS, Method, build_method
from gcl.methods.base import CAPABILITIES


def test_each_declared_capability_has_its_hook():
    for name, cls in METHODS.items():
        for cap in cls.capabilities:
            hook = CAPABILITIES[cap]
            assert hook is None or getattr(cls, hook) is not getattr(Method, hook), (name, cap)


def test_capabilities_as_the_methods_declare_them():
    assert METHODS["simgcl"].can("momentum") and METHODS["simgcl"].can("text")
    assert METHODS["seq-cl"].can("sequences") and not METHODS["lightgcn"].can("sequences")
    assert not METHODS["pop"].can("text") and not METHODS["gf-cf"].can("cl_weight")
    assert not METHODS["lightgcl"].can("momentum")
    with pytest.raises(ValueError, match="unknown capability 'flying'"):
        METHODS["lightgcn"].can("flying")


def test_a_missing_capability_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="projection_head needs a method with a contrastive "
                                         "loss, and 'lightgcn' has no contrastive loss"):
        build_method("lightgcn", 4, 5, projection_head=1)
    with pytest.raises(ValueError, match="lightgcl contrasts each node"):
        build_method("lightgcl", 4, 5, moco=True)
    with pytest.raises(ValueError, match="item text needs a method with a text branch"):
        build_method("pop", 4, 5).attach_text(None)


def test_a_class_that_declares_what_it_lacks_is_refused_when_made():
    with pytest.raises(TypeError, match="does not implement add_momentum"):
        type("Broken", (Method,), {"capabilities": frozenset({"momentum"})})
    with pytest.raises(TypeError, match="unknown capabilities"):
        type("Odd", (Method,), {"capabilities": frozenset({"flying"})})
