import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gcl.lookup import CSR, IdMap, id_array


def test_csr_contains_matches_dense_lookup():
    rng = np.random.default_rng(0)
    seen = sp.random(30, 40, density=0.2, format="csr", random_state=1)
    rows = rng.integers(0, 30, 12)
    labels = rng.integers(-1, 40, (12, 9))
    dense = seen.toarray() > 0
    expected = dense[rows[:, None], np.maximum(labels, 0)] & (labels >= 0)
    csr = CSR.of(seen)
    np.testing.assert_array_equal(csr.contains(rows, labels), expected)
    np.testing.assert_array_equal(csr.row_lengths(), np.diff(seen.indptr))
    assert (csr.to_scipy() != (seen > 0)).nnz == 0
    empty = CSR.of(sp.csr_matrix((3, 4)))
    assert not empty.contains(np.array([0, 2]), np.array([[0, 1], [3, -1]])).any()


def test_csr_of_dense_rows_and_sums_equal_scipy():
    dense = np.array([[0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]])
    csr = CSR.of(dense)
    assert csr.shape == (3, 4) and csr.nnz == 4
    np.testing.assert_array_equal(csr.to_scipy().toarray(), dense)
    rows = [np.array([1, 2]), np.array([], dtype=np.int64), np.array([0, 3])]
    np.testing.assert_array_equal(CSR.from_rows(rows, 4).to_scipy().toarray(), dense)
    values = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(csr.sum_rows(values), sp.csr_matrix(dense) @ values)


def test_csr_of_a_matrix_with_duplicates_leaves_it_as_given():
    m = sp.csr_matrix((np.ones(3), np.array([2, 0, 2]), np.array([0, 3])), shape=(1, 3))
    csr = CSR.of(m)
    assert csr.nnz == 2 and m.indices.tolist() == [2, 0, 2]


@pytest.mark.parametrize("indptr, indices, shape, match", [
    ([0, 2], [0, 5], (1, 3), "indices must be in 0..2"),
    ([0, 2, 1], [0, 1], (2, 3), "rise from 0"),
    ([0, 1], [0], (2, 3), "num_rows \\+ 1 = 3"),
    ([0.0, 1.0], [0], (1, 3), "integer arrays"),
])
def test_malformed_csr_arrays_are_refused(indptr, indices, shape, match):
    with pytest.raises(ValueError, match=match):
        CSR(np.asarray(indptr), np.asarray(indices), shape)


def test_id_map_finds_ids_as_pandas_does():
    ints = IdMap(pd.Index([7, 3, 10]))
    index = pd.Index([7, 3, 10])
    queries = [3, np.int64(10), 7.0, True, "3", 11, [1]]
    assert ints.get_rows(queries).tolist() == [1, 2, 0, -1, -1, -1, -1]
    assert index.get_indexer(pd.Index(queries[:6], dtype=object)).tolist() == \
        [1, 2, 0, -1, -1, -1]
    strings = IdMap(["007", "7", "é"])
    assert strings.get_rows([np.str_("7"), 7, "é", b"007"]).tolist() == [1, -1, 2, -1]
    with pytest.raises(KeyError, match=r"unknown user id\(s\): \['x', 8\]"):
        strings.rows(["007", "x", 8], "user")
    with pytest.raises(ValueError, match="duplicate ids"):
        IdMap(["a", "b", "a"]).get_rows(["a"])


def test_id_array_keeps_integer_dtypes_and_objects_for_the_rest():
    assert id_array(pd.Index([1, 2])).dtype == np.int64
    assert id_array(np.array([2**63 + 1], dtype=np.uint64)).dtype == np.uint64
    assert id_array([1, 2]).dtype.kind == "i"
    strs = id_array(pd.Index(["a", "007"]))
    assert strs.dtype == object and [type(v) for v in strs] == [str, str]
    assert id_array(["a", 1]).tolist() == ["a", 1]  # not turned into "1"
    assert id_array([2**70]).tolist() == [2**70]
