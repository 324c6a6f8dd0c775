"""Relative-index sparse storage (tdnumpy.pruning.sparse, Han et al.): the codec against a plain
reference encoder, bit packing, Han et al.'s byte count on a hand-worked
example, model export / import and clear errors for damaged files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tdnumpy.nn.models import build_model
from tdnumpy.nn.weighted import WeightedLayer
from tdnumpy.pruning.sparse import (RelativeCSR, SparseFormatError, decode, dense_bytes, encode, export_model,
                                    import_model, pack_gaps, report, sparse_bytes, total, unpack_gaps)
from tdnumpy.training.checkpoint import save_checkpoint

BITS = st.sampled_from([1, 2, 3, 5, 8])


def reference_encode(matrix, bits):
    """Han et al.'s scheme written plainly, entry by entry: (values, gaps, row_ptr)."""
    span = 2**bits - 1
    values, gaps, row_ptr = [], [], [0]
    for row in matrix:
        previous = 0
        for col, v in enumerate(row):
            if v == 0:
                continue
            gap = col - previous
            while gap > span:
                values.append(0.0)
                gaps.append(span)
                gap -= span
            values.append(v)
            gaps.append(gap)
            previous = col
        row_ptr.append(len(values))
    return values, gaps, row_ptr


@st.composite
def sparse_matrices(draw):
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 12), st.integers(1, 40)),
        st.tuples(st.just(1), st.integers(1, 120)),      # 1 x n
        st.tuples(st.integers(1, 30), st.just(1)),       # n x 1
        st.sampled_from([(1, 100), (4, 300)]),           # long gaps for every b
    ))
    density = draw(st.one_of(st.sampled_from([0.0, 0.02, 1.0]), st.floats(0.0, 1.0)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m = rng.standard_normal(shape).astype(dtype) * (rng.random(shape) < density)  # dropped negatives: -0.0
    m[rng.random(shape[0]) < 0.2] = 0                                         # empty rows
    full = rng.random(shape[0]) < 0.2
    m[full] = rng.uniform(0.5, 2.0, (full.sum(), shape[1])) * rng.choice([-1, 1], (full.sum(), shape[1]))
    return m


def _far_apart(cols, length=100, dtype=np.float64):
    m = np.zeros((1, length), dtype)
    m[0, cols] = np.arange(1, len(cols) + 1)
    return m


@settings(max_examples=300, deadline=None)
@given(m=sparse_matrices(), bits=BITS)
@example(m=_far_apart([0, 99]), bits=3)        # a gap of 99 > 7: 13 fillers
@example(m=_far_apart([50]), bits=3)           # first entry past 2^b - 1
@example(m=_far_apart([7, 15, 22]), bits=3)    # gaps of exactly 7 and 8
@example(m=_far_apart([1, 2, 3], length=4, dtype=np.float32), bits=1)
@example(m=np.zeros((3, 5), np.float32), bits=5)
def test_encode_matches_the_reference_and_decodes_exactly(m, bits):
    csr = encode(m, bits)
    values, gaps, row_ptr = reference_encode(m, bits)
    assert csr.shape == m.shape and csr.bits == bits and csr.values.dtype == m.dtype
    np.testing.assert_array_equal(csr.values, np.array(values, m.dtype))
    np.testing.assert_array_equal(csr.gaps, gaps)
    np.testing.assert_array_equal(csr.row_ptr, row_ptr)
    assert csr.row_ptr.dtype == np.int64
    assert np.all(csr.gaps < 2**bits) and np.all(csr.gaps >= 0)
    rep = report(csr)
    assert rep["fillers"] == len(values) - np.count_nonzero(m) and rep["nonzeros"] == np.count_nonzero(m)
    dense = decode(csr)
    assert dense.dtype == m.dtype
    assert dense.tobytes() == np.where(m == 0, np.zeros_like(m), m).tobytes()  # -0.0 comes back as +0.0


def test_long_gap_example_counts_fillers():
    csr = encode(_far_apart([0, 99]), 3)
    # column 0 (gap 0), then 99 = 14 * 7 + 1: fillers at 7, 14, ..., 98, then gap 1
    assert report(csr)["fillers"] == 14
    np.testing.assert_array_equal(csr.gaps, [0] + [7] * 14 + [1])
    csr = encode(_far_apart([50]), 3)  # 50 = 7 * 7 + 1: fillers at 7, ..., 49, then gap 1
    np.testing.assert_array_equal(csr.gaps, [7] * 7 + [1])


def test_worked_example_byte_count():
    # A 2 x 20 float32 matrix, b = 3 bits, so a gap holds at most 7.
    #   row 0: 1.0 at column 0, 2.0 at column 9, 3.0 at column 19
    #   row 1: 4.0 at column 17
    m = np.zeros((2, 20), np.float32)
    m[0, [0, 9, 19]] = [1.0, 2.0, 3.0]
    m[1, 17] = 4.0
    csr = encode(m, 3)
    # row 0: 1.0 gap 0 | filler at 7 gap 7 | 2.0 at 9 gap 2 | filler at 16 gap 7 | 3.0 at 19 gap 3
    # row 1: filler at 7 gap 7 | filler at 14 gap 7 | 4.0 at 17 gap 3
    np.testing.assert_array_equal(csr.values, [1, 0, 2, 0, 3, 0, 0, 4])
    np.testing.assert_array_equal(csr.gaps, [0, 7, 2, 7, 3, 7, 7, 3])
    np.testing.assert_array_equal(csr.row_ptr, [0, 5, 8])
    # 8 stored entries (4 non-zeros, 4 fillers):
    #   values 4 * 8 = 32, indices ceil(3 * 8 / 8) = 3, row pointers 4 * (2 + 1) = 12: 47 bytes
    #   dense: 4 * 2 * 20 = 160 bytes
    assert sparse_bytes(csr) == 47 and dense_bytes(csr) == 160
    assert report(csr) == {"nonzeros": 4, "fillers": 4, "stored": 8, "dense_bytes": 160,
                           "sparse_bytes": 47, "ratio": 160 / 47}
    # the bit stream, least significant bit of each gap first:
    #   000 111 010 111 110 111 111 110 -> bytes (bit 0 first)
    #   0001 1101 = 8+16+32+128 = 184, 0111 1101 = 2+4+8+16+32+128 = 190, 1111 1110 = 127
    np.testing.assert_array_equal(pack_gaps(csr.gaps, 3), [184, 190, 127])


def test_total_sums_reports():
    a, b = encode(np.eye(4), 5), encode(np.zeros((3, 9)), 5)
    t = total([report(a), report(b)])
    assert t["nonzeros"] == 4 and t["stored"] == 4 and t["fillers"] == 0
    assert t["dense_bytes"] == 4 * 16 + 4 * 27
    # eye(4): 4 values, ceil(5 * 4 / 8) = 3 index bytes, 5 row pointers; zeros: 4 row pointers
    assert t["sparse_bytes"] == (4 * 4 + 3 + 4 * 5) + (0 + 0 + 4 * 4)
    assert t["ratio"] == t["dense_bytes"] / t["sparse_bytes"]


def _reference_pack(gaps, bits):
    stream = "".join(format(g, f"0{bits}b")[::-1] for g in gaps)  # each gap least significant bit first
    stream += "0" * (-len(stream) % 8)
    return [int(stream[i:i + 8][::-1], 2) for i in range(0, len(stream), 8)]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), bits=st.integers(1, 16))
def test_pack_unpack_round_trip(data, bits):
    gaps = data.draw(st.lists(st.integers(0, 2**bits - 1), max_size=60))
    packed = pack_gaps(np.array(gaps, np.int64), bits)
    assert packed.dtype == np.uint8 and len(packed) == -(-bits * len(gaps) // 8)
    assert packed.tolist() == _reference_pack(gaps, bits)
    out = unpack_gaps(packed, bits, len(gaps))
    assert out.dtype == np.int64 and out.tolist() == gaps


def test_pack_and_unpack_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"'gaps' parameter of pack_gaps must hold ints in the range \[0, 7\]. Got 8"):
        pack_gaps(np.array([1, 8]), 3)
    with pytest.raises(ValueError, match="holds 1 bytes, but 4 gaps of 3 bits take 2"):
        unpack_gaps(np.zeros(1, np.uint8), 3, 4)
    with pytest.raises(TypeError, match="'packed' parameter of unpack_gaps must be a 1-D uint8 array"):
        unpack_gaps(np.zeros(2, np.int64), 3, 4)


@pytest.mark.parametrize("matrix, bits, error, match", [
    (np.eye(3), 0, ValueError, r"The 'bits' parameter of encode must be an int in the range \[1, 16\]. Got 0 instead."),
    (np.eye(3), 17, ValueError, r"range \[1, 16\]. Got 17 instead."),
    (np.eye(3), True, TypeError, "Got True of type bool"),
    (np.zeros((2, 2, 2)), 3, TypeError, r"'matrix' parameter of encode must be a 2-D float32 or float64 array. "
                                       r"Got float64 of shape \(2, 2, 2\)"),
    (np.eye(3, dtype=int), 3, TypeError, "Got int64 of shape"),
    (np.array([[1.0, np.nan, np.inf]]), 3, ValueError, "must hold finite values. Got 2 NaN or infinite entries"),
])
def test_encode_rejects_bad_arguments(matrix, bits, error, match):
    with pytest.raises(error, match=match):
        encode(matrix, bits)


def _prune(model, rng, density=0.3, skip_last=True):
    """Random keep-masks on every weight but (with skip_last) the last; random biases."""
    weighted = [layer for layer in model.layers if isinstance(layer, WeightedLayer)]
    for layer in weighted[:-1] if skip_last else weighted:
        layer.weight.set_mask(rng.random(layer.weight.shape) < density)
    for layer in weighted:
        layer.bias.value[...] = rng.standard_normal(layer.bias.shape)
    return weighted


@pytest.mark.parametrize("spec", ["mlp:20-16-8-4", "lenet5"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_round_trip_is_exact(tmp_path, rng, spec, dtype):
    model = build_model(spec, seed=0, dtype=dtype)
    weighted = _prune(model, rng)
    path = tmp_path / "out" / "model.npz"
    reports = export_model(model, path)
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # atomic write: no stray temporaries
    loaded, meta = import_model(path)
    assert meta["format"] == "tdnumpy-sparse" and meta["spec"] == spec and meta["dtype"] == np.dtype(dtype).name
    before, after = model.named_parameters(), loaded.named_parameters()
    assert list(before) == list(after)
    for name, p in before.items():
        q = after[name]
        assert q.dtype == p.dtype and q.shape == p.shape, name
        # pruned negatives are -0.0 in the model (set_mask multiplies); the file stores no zeros
        assert q.value.tobytes() == (p.value + p.dtype.type(0)).tobytes(), name
        assert (p.mask is None) == (q.mask is None), name
        if p.mask is not None:
            assert np.array_equal(q.mask, p.mask), name
    assert [r["layer"] for r in reports] == [layer.name for layer in weighted]
    for r, layer in zip(reports, weighted):
        conv = layer.kind == "conv"
        assert r["kind"] == ("conv" if conv else "dense") and r["bits"] == (8 if conv else 5)
        assert r["shape"] == layer.weight.shape[::-1]
        assert r["nonzeros"] == np.count_nonzero(layer.weight.value)
        assert r["stored"] == r["nonzeros"] + r["fillers"]
    assert reports[-1]["ratio"] < 1 < reports[0]["ratio"]  # the last layer is not pruned
    assert total(reports)["sparse_bytes"] == sum(r["sparse_bytes"] for r in reports)


def test_unpruned_model_exports_with_ratio_below_one(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    reports = export_model(model, tmp_path / "m.npz", dense_bits=3)
    assert all(r["fillers"] == 0 and r["ratio"] < 1 and r["bits"] == 3 for r in reports)
    loaded, meta = import_model(tmp_path / "m.npz")
    assert meta["masked"] == [] and all(p.mask is None for p in loaded.parameters())


def test_export_rejects_bad_arguments(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    with pytest.raises(ValueError, match=r"'conv_bits' parameter of export_model must be an int in the range "
                                         r"\[1, 16\]. Got 17 instead."):
        export_model(model, tmp_path / "m.npz", conv_bits=17)
    model.named_parameters()["fc2.bias"].value[0] = np.nan
    with pytest.raises(ValueError, match="parameter 'fc2.bias' holds NaN or infinite values"):
        export_model(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# --- damaged files -------------------------------------------------------------------

@pytest.fixture
def exported(tmp_path, rng):
    model = build_model("mlp:20-16-8-4", seed=0)
    _prune(model, rng)
    path = tmp_path / "sparse.npz"
    export_model(model, path)
    return path


def _contents(path):
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _rewrite(path, drop=(), meta=None, **arrays):
    contents = _contents(path)
    for key in drop:
        del contents[key]
    if meta is not None:
        old = json.loads(contents["meta.json"].tobytes())
        contents["meta.json"] = np.frombuffer(json.dumps({**old, **meta}).encode(), np.uint8)
    contents.update(arrays)
    np.savez(path, **contents)


def _expect(path, match):
    with pytest.raises(SparseFormatError, match=match) as info:
        import_model(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_unreadable_file(exported, damage):
    data = exported.read_bytes()
    exported.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a zip" * 50, "empty": b""}[damage])
    _expect(exported, "not a readable sparse model archive")


def test_missing_file(tmp_path):
    _expect(tmp_path / "absent.npz", "no such sparse model file")


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([object()], dtype=object))
    _expect(path, "not a readable sparse model archive")


def test_checkpoint_is_not_a_sparse_model(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", build_model("mlp:20-16-8-4"))
    _expect(path, "meta.json format 'tdnumpy-checkpoint', expected 'tdnumpy-sparse'")


def _csr(path, name, key):
    return _contents(path)[f"csr/{name}/{key}"]


@pytest.mark.parametrize("change, match", [
    (dict(drop=["meta.json"]), "no meta.json record"),
    (dict(**{"meta.json": np.frombuffer(b"{broken", np.uint8)}), "meta.json record is corrupt"),
    (dict(meta={"format": "other"}), "meta.json format 'other', expected 'tdnumpy-sparse'"),
    (dict(meta={"version": 99}), "sparse model version 99; this tdnumpy reads version 1"),
    (dict(meta={"spec": "mlp:bogus"}), "the model spec 'mlp:bogus' cannot be built"),
    (dict(meta={"dtype": "int8"}), "the model spec 'mlp:20-16-8-4' cannot be built"),
    (dict(meta={"spec": "mlp:20-17-8-4"}), r"'fc1.weight' is stored as a \(16, 20\) matrix, but model expects \(17, 20\)"),
    (dict(meta={"spec": "mlp:20-16-4"}), "meta.json lists sparse weights"),
    (dict(drop=["csr/fc2.weight/row_ptr"]), r"missing arrays \['csr/fc2.weight/row_ptr'\]"),
    (dict(drop=["dense/fc1.bias"]), r"missing arrays \['dense/fc1.bias'\]"),
    (dict(junk=np.zeros(2)), r"unexpected arrays \['junk'\]"),
    (dict(meta={"masked": ["fc9.weight"]}), "marks unknown parameters as masked"),
])
def test_damaged_metadata_or_archive(exported, change, match):
    _rewrite(exported, **change)
    _expect(exported, match)


def _edit(name, key, edit):
    return lambda path: _rewrite(path, **{f"csr/{name}/{key}": edit(_csr(path, name, key))})


def _swap_first_rows(row_ptr):
    row_ptr = row_ptr.copy()
    row_ptr[1], row_ptr[2] = row_ptr[2], row_ptr[1]
    return row_ptr


@pytest.mark.parametrize("damage, match", [
    (_edit("fc1.weight", "row_ptr", _swap_first_rows), "'fc1.weight': row_ptr must start at 0, never decrease"),
    (_edit("fc1.weight", "row_ptr", lambda r: np.append(r[:-1], r[-1] - 1)), "end at the stored count"),
    (_edit("fc2.weight", "row_ptr", lambda r: r[:-1]), r"row_ptr must be 9 integers; got int64 of shape \(8,\)"),
    (_edit("fc1.weight", "index", lambda i: np.full_like(i, 255)), "a decoded column, .*, lies past the row end"),
    (_edit("fc1.weight", "index", np.zeros_like), "be >= 1 after the first entry of its row"),
    (_edit("fc1.weight", "index", lambda i: i[:-1]), "'fc1.weight': the packed index array holds"),
    (_edit("fc1.weight", "index", lambda i: i.astype(np.int16)), "'packed' parameter of unpack_gaps must be a 1-D uint8"),
    (_edit("fc2.weight", "values", lambda v: v[:-1]), "'fc2.weight' has values of shape .*; meta.json says"),
    (_edit("fc2.weight", "values", lambda v: v.astype(np.float64)), "'fc2.weight' is stored as float64"),
    (_edit("fc3.weight", "values", lambda v: np.full_like(v, np.inf)), "'fc3.weight' holds NaN or infinite"),
    (lambda p: _rewrite(p, **{"dense/fc1.bias": np.zeros(15, np.float32)}), r"'fc1.bias' is stored as float32 \(15,\)"),
])
def test_damaged_arrays(exported, damage, match):
    damage(exported)
    _expect(exported, match)


def test_relative_csr_checks_its_invariants():
    good = encode(np.eye(3), 2)
    RelativeCSR(good.shape, good.bits, good.values, good.gaps, good.row_ptr)
    with pytest.raises(ValueError, match=r"every gap must lie in \[0, 3\]"):
        RelativeCSR(good.shape, 2, good.values, good.gaps + 3, good.row_ptr)
    with pytest.raises(ValueError, match="values must be a 1-D float array"):
        RelativeCSR(good.shape, 2, good.values.astype(int), good.gaps, good.row_ptr)
