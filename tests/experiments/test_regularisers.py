"""Choosing and attaching regularisers by name (tdnumpy.experiments.regularisers)."""

from __future__ import annotations

import pytest

from tdnumpy.experiments.regularisers import Settings, apply, choose, parse
from tdnumpy.nn.dropout import Standout
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import DropConnect


def test_regulariser_specifications():
    model = build_model("lenet300", seed=0)
    assert parse("dropout", model) == {"fc1": "dropout", "fc2": "dropout"}
    assert parse("dropconnect", model) == dict.fromkeys(["fc1", "fc2", "fc3"], "dropconnect")
    assert parse("fc1=dropconnect, fc2=dropout", model) == {"fc1": "dropconnect", "fc2": "dropout"}
    for bad, match in [("dropot", "'reg' parameter must be one of"), ("fc9=dropout", "No weighted layer named 'fc9'"),
                       ("fc1=dropout,fc1=gaussian", "twice"), ("fc1", "must be one of")]:
        with pytest.raises(ValueError, match=match):
            parse(bad, model)
    apply(model, {"fc1": "dropout", "fc2": "standout", "fc3": "dropconnect"}, Settings(drop_rate=0.2))
    assert [layer.name for layer in model.layers] == ["fc1", "relu1", "drop1", "fc2", "relu2", "fc3"]
    assert isinstance(model.layer("relu2"), Standout) and isinstance(model.layer("fc3").noise, DropConnect)
    with pytest.raises(ValueError, match="Spatial dropout drops channels of convolution outputs; 'fc1'"):
        apply(build_model("lenet300", seed=0), {"fc1": "spatial"})
    with pytest.raises(ValueError, match="no activation follows 'fc3'"):
        apply(build_model("lenet300", seed=0), {"fc3": "standout"})


def test_a_specification_is_read_without_a_model():
    from tdnumpy.experiments.regularisers import split

    assert split(" dropout ") == "dropout"
    assert split("fc1=dropconnect, fc2=none") == {"fc1": "dropconnect", "fc2": "none"}
    for bad, match in [("dropot", "must be one of"), ("fc1=dropot", "must be one of"),
                       ("fc1=dropout,fc1=gaussian", "names layer 'fc1' twice"), ("=dropout", "LAYER=NAME pairs")]:
        with pytest.raises(ValueError, match=match):
            split(bad)


@pytest.mark.parametrize("model_spec, reg, layers, match", [
    # issue 18: each was accepted and trained without any regulariser
    ("lenet300", "spatial", None, r"'reg' spatial applies to no layer of this model: spatial dropout goes on the "
                                  r"convolutions, and it has none"),
    ("mlp:784-10", "dropout", None, r"dropout goes after every weighted layer but the output one, and it has only"),
    ("lenet300", "dropout", (), r"'reg_layers' names no layer"),
    ("lenet300", "dropconnect", ("fc1", "fc1"), r"'layers' parameter names 'fc1' more than once"),
])
def test_a_regulariser_that_would_apply_to_nothing_is_refused(model_spec, reg, layers, match):
    with pytest.raises(ValueError, match=match):
        choose(reg, build_model(model_spec, seed=0), layers)


def test_none_and_explicit_pairs_may_choose_nothing():
    model = build_model("lenet300", seed=0)
    assert choose("none", model) == {} and choose("fc1=none", model) == {}
    assert choose("none", model, ("fc1",)) == {}
    assert choose("dropconnect", model, ("fc2",)) == {"fc2": "dropconnect"}
