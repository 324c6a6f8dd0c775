"""fit and evaluate (tdnumpy.training.fit): learning, reproducibility, dtypes, divergence, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.data import to_inputs
from tdnumpy.nn import softmax_cross_entropy
from tdnumpy.nn.models import build_model
from tdnumpy.training.fit import TrainingDiverged, evaluate, fit
from tdnumpy.training.optim import SGD, Adam
from tdnumpy.training.schedules import Cosine, StepDecay


def blobs(rng, n=600, dim=10, classes=3, dtype=np.float32):
    """Well-separated Gaussian clusters: a problem any working MLP solves."""
    centres = 4 * rng.standard_normal((classes, dim))
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.standard_normal((n, dim))
    return x.astype(dtype), y


def test_fit_learns_a_separable_problem(rng):
    x, y = blobs(rng)
    model = build_model("mlp:10-16-3", seed=0)
    before = evaluate(model, x, y)
    history = fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9),
                  epochs=5, batch_size=32, rng=np.random.default_rng(0), validation=(x[:100], y[:100]))
    after = evaluate(model, x, y)
    assert after["loss"] < 0.2 * before["loss"] and after["accuracy"] > 0.97
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4, 5]
    assert history.last()["train_loss"] < history.epochs[0]["train_loss"]
    assert {"val_loss", "val_accuracy", "lr", "seconds", "train_accuracy"} <= set(history.last())


def _train_once(x, y, seed, optimizer="sgd"):
    model = build_model("mlp:10-32-16-3", seed=seed)
    opt = (SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
           if optimizer == "sgd" else Adam(model.parameters(), lr=1e-3))
    fit(model, x, y, optimizer=opt, epochs=2, batch_size=50, rng=np.random.default_rng(seed),
        lr_schedule=Cosine(0.05, 24))
    return [p.value.copy() for p in model.parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_same_seed_gives_bit_identical_weights(optimizer, rng):
    x, y = blobs(rng)
    a, b = _train_once(x, y, 3, optimizer), _train_once(x, y, 3, optimizer)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b))
    c = _train_once(x, y, 4, optimizer)
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_divergence_stops_with_a_clear_error(rng):
    x, y = blobs(rng)
    model = build_model("mlp:10-8-3", seed=0)
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at epoch 1.*Lower the learning rate"):
        fit(model, x * 1e30, y, optimizer=SGD(model.parameters(), lr=1e3), epochs=3, batch_size=64, rng=rng)
    x[5, 3] = np.nan
    fresh = build_model("mlp:10-8-3")
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 1, step 0"):
        fit(fresh, x, y, optimizer=SGD(fresh.parameters(), lr=0.1), epochs=1, batch_size=600, rng=rng)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, r"'batch_size' parameter of fit must be an int in the range \[1, inf\). Got 0"),
    (dict(batch_size=-5), ValueError, "'batch_size'"),
    (dict(epochs=0), ValueError, r"'epochs' parameter of fit must be an int in the range \[1, inf\). Got 0"),
    (dict(epochs=1.5), TypeError, "'epochs'"),
    (dict(rng=0), TypeError, "numpy.random.Generator"),
    (dict(first_epoch=0), ValueError, r"'first_epoch' parameter of fit must be an int in the range \[1, 1\]. Got 0"),
    (dict(first_epoch=2), ValueError, r"'first_epoch'.*Got 2"),
])
def test_fit_rejects_bad_arguments(kwargs, error, match, rng):
    x, y = blobs(rng, n=50)
    model = build_model("mlp:10-4-3")
    args = dict(optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=10, rng=rng) | kwargs
    with pytest.raises(error, match=match):
        fit(model, x, y, **args)


def test_fit_rejects_bad_data(rng):
    x, y = blobs(rng, n=50)
    model = build_model("mlp:10-4-3")
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"range \[0, 2\]. Got a label 3"):
        fit(model, x, np.where(y == 0, 3, y), optimizer=opt, epochs=1, batch_size=10, rng=rng)
    with pytest.raises(ValueError, match="49 labels but there are 50 examples in .x."):
        fit(model, x, y[:-1], optimizer=opt, epochs=1, batch_size=10, rng=rng)
    with pytest.raises(TypeError, match="model's dtype float32. Got float64"):
        fit(model, x.astype(np.float64), y, optimizer=opt, epochs=1, batch_size=10, rng=rng)
    with pytest.raises(ValueError, match=r"shape \(n, 10\).*Got \(50, 9\)"):
        fit(model, x[:, :9], y, optimizer=opt, epochs=1, batch_size=10, rng=rng)
    with pytest.raises(ValueError, match="'batch_size' parameter of evaluate"):
        evaluate(model, x, y, batch_size=0)


def test_batch_larger_than_dataset_is_one_batch(rng):
    x, y = blobs(rng, n=30)
    model = build_model("mlp:10-4-3")
    history = fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=1000, rng=rng)
    assert history.last()["epoch"] == 1


@pytest.mark.mnist
def test_mnist_subset_reproducible_and_learning(mnist):
    """Real data: two runs with one seed agree bit for bit, and 2 epochs on
    10,000 images already give > 90% test accuracy."""
    x = to_inputs(mnist.train.images[:10_000], (784,))
    y = mnist.train.labels[:10_000]
    weights = []
    for _ in range(2):
        model = build_model("lenet300", seed=0)
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9), epochs=2, batch_size=128,
            rng=np.random.default_rng(0))
        weights.append(b"".join(p.value.tobytes() for p in model.parameters()))
    assert weights[0] == weights[1]
    test = evaluate(model, to_inputs(mnist.test.images, (784,)), mnist.test.labels)
    assert test["accuracy"] > 0.90


class CountingSGD(SGD):
    steps = 0

    def step(self):
        self.steps += 1
        super().step()


@pytest.mark.parametrize("n, batch_size, per_epoch", [(50, 20, 3), (50, 50, 1), (30, 1000, 1), (7, 1, 7)])
def test_every_example_is_used_including_the_last_partial_batch(n, batch_size, per_epoch, rng):
    x, y = blobs(rng, n=n)
    model = build_model("mlp:10-4-3")
    before = [p.value.copy() for p in model.parameters()]
    opt = CountingSGD(model.parameters(), lr=0.1)
    fit(model, x, y, optimizer=opt, epochs=2, batch_size=batch_size, rng=rng)
    assert opt.steps == 2 * per_epoch
    assert all(not np.array_equal(a, p.value) for a, p in zip(before, model.parameters()))


def _manual_training(x, y, seed, schedule, epochs, batch_size):
    """The training loop written out plainly, to hold fit to."""
    model = build_model("mlp:10-8-3", seed=seed)
    opt = SGD(model.parameters(), lr=schedule(0), momentum=0.9)
    rng, step = np.random.default_rng(seed), 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            _, grad = softmax_cross_entropy(model.forward(x[idx], training=True), y[idx])
            model.backward(grad)
            opt.lr = schedule(step)
            opt.step()
            step += 1
    return model


def test_fit_applies_the_schedule_step_by_step(rng):
    x, y = blobs(rng, n=100)
    schedule = StepDecay(0.1, step_size=3, factor=0.5)
    model = build_model("mlp:10-8-3", seed=5)
    history = fit(model, x, y, optimizer=SGD(model.parameters(), lr=1.0, momentum=0.9), epochs=2, batch_size=32,
                  rng=np.random.default_rng(5), lr_schedule=schedule)
    reference = _manual_training(x, y, 5, schedule, epochs=2, batch_size=32)
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.value.tobytes() == q.value.tobytes(), p.name
    assert [e["lr"] for e in history.epochs] == [schedule(3), schedule(7)]  # the last step of each epoch


def test_validation_metrics_are_computed_on_the_validation_set(rng):
    x, y = blobs(rng, n=200)
    xv, yv = blobs(np.random.default_rng(99), n=60)
    model = build_model("mlp:10-8-3", seed=0)
    history = fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05), epochs=1, batch_size=32, rng=rng,
                  validation=(xv, yv))
    expected = evaluate(model, xv, yv)
    assert history.last()["val_loss"] == expected["loss"]
    assert history.last()["val_accuracy"] == expected["accuracy"]
    assert expected != evaluate(model, x, y)


def test_progress_bar_is_quiet_off_a_terminal(rng, capsys):
    x, y = blobs(rng, n=64)
    model = build_model("mlp:10-4-3")
    fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=8, rng=rng)
    assert capsys.readouterr().err == ""  # pytest's captured stderr is not a terminal
    fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=8, rng=rng, progress=True)
    assert "epoch 1/1" in capsys.readouterr().err


def test_fit_rejects_empty_data_and_a_malformed_validation_pair(rng):
    x, y = blobs(rng, n=20)
    model = build_model("mlp:10-4-3")
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="hold no examples"):
        fit(model, x[:0], y[:0], optimizer=opt, epochs=1, batch_size=4, rng=rng)
    with pytest.raises(TypeError, match=r"'validation' parameter of fit must be a pair \(x_val, y_val\)"):
        fit(model, x, y, optimizer=opt, epochs=1, batch_size=4, rng=rng, validation=x)


def test_the_label_check_reads_the_classes_off_the_model(rng, monkeypatch):
    """Issue 18: fit counted the classes with an evaluation pass, which with Gaussian
    DropConnect inference at 10^9 samples never ended. No evaluation pass may run
    before training when there is no validation set; and the count is still checked."""
    x, y = blobs(rng, n=64)
    model = build_model("mlp:10-8-3", seed=0)
    forward = model.forward

    def training_only(inputs, training=False):
        assert training, "fit ran an evaluation pass"
        return forward(inputs, training)

    monkeypatch.setattr(model, "forward", training_only)
    fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05), epochs=1, batch_size=32, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"class labels in the range \[0, 2\]. Got a label 3"):
        fit(model, x, np.where(y == 0, 3, y), optimizer=SGD(model.parameters(), lr=0.05), epochs=1, batch_size=32,
            rng=np.random.default_rng(0))


def test_a_fit_from_a_later_epoch_counts_steps_from_there(rng):
    """first_epoch = 2 of 3: the schedule and before_step see steps 4 .. 11 (4 steps per epoch)."""
    x, y = blobs(rng, n=100)
    model = build_model("mlp:10-8-3", seed=5)
    seen = []
    history = fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=3, batch_size=32, rng=rng,
                  lr_schedule=lambda step: seen.append(step) or 0.1, first_epoch=2)
    assert seen == list(range(4, 12)) and [e["epoch"] for e in history.epochs] == [2, 3]
