from .mixin import MethodContract


class TestLightGCL(MethodContract):
    method = "lightgcl"
    kwargs = {"rank": 4}
