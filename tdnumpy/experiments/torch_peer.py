"""The PyTorch side of the benchmarks: the same network and epoch in PyTorch, in a process of its own.

:func:`torch_twin` copies a tdnumpy network into PyTorch (also used by the
cross-check tests); :class:`TorchChild` trains it in a spawned child
process, turn by turn, so that PyTorch's threads and OpenBLAS's never compete. PyTorch is
imported only inside these functions: it is an optional peer (the ``bench``
extra), never a dependency.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np

from .._docs import shared_docstring
from ..data import load_dataset, to_inputs
from ..nn.models import build_model


# The parameters of one benchmark epoch, the same on both sides.
EPOCH = """
    model_spec : str
        The model (see :func:`tdnumpy.nn.models.build_model`).
    batch_size : int
        Mini-batch size.
    lr, momentum : float
        SGD's learning rate and momentum.
    """


def torch_twin(model):
    """The same network in PyTorch, with a copy of ``model``'s weights (same dtype).

    Supports Dense, Conv2D (our (fan_in, units) weight becomes PyTorch's
    (out, in, kh, kw)), MaxPool2D, AvgPool2D, Flatten and the activations.

    Parameters
    ----------
    model : Sequential
        The network, float32 or float64.

    Returns
    -------
    torch.nn.Sequential
        Its twin, in the same dtype, with the same weights and biases.
    """
    import torch

    dtype = getattr(torch, str(model.dtype))
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            twin = torch.nn.Linear(layer.fan_in, layer.units, bias=layer.bias is not None, dtype=dtype)
            weight = layer.weight.value.T
        elif kind == "Conv2D":
            padding = layer.padding if isinstance(layer.padding, str) else layer.padding
            twin = torch.nn.Conv2d(
                layer.in_channels,
                layer.out_channels,
                (layer.kh, layer.kw),
                stride=layer.stride,
                padding=padding,
                dilation=layer.dilation,
                bias=layer.bias is not None,
                dtype=dtype,
            )
            weight = layer.kernel
        elif kind in ("MaxPool2D", "AvgPool2D"):
            pool = torch.nn.MaxPool2d if kind == "MaxPool2D" else torch.nn.AvgPool2d
            layers.append(pool((layer.kh, layer.kw), stride=layer.stride))
            continue
        else:
            layers.append(
                {
                    "ReLU": torch.nn.ReLU,
                    "Tanh": torch.nn.Tanh,
                    "Sigmoid": torch.nn.Sigmoid,
                    "Flatten": torch.nn.Flatten,
                }[kind]()
            )
            continue
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            if layer.bias is not None:
                twin.bias.copy_(torch.from_numpy(layer.bias.value))
        layers.append(twin)
    return torch.nn.Sequential(*layers)


def _torch_steps(net, optimizer, x, y, batch_size) -> float:
    """Train ``net`` on (x, y) in order, in batches; the seconds it took."""
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.functional.cross_entropy
    start = time.perf_counter()
    for s in range(0, len(xt), batch_size):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(xt[s : s + batch_size]), yt[s : s + batch_size])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def _torch_worker(conn, model_spec: str, batch_size: int, lr: float, momentum: float, data_dir) -> None:
    """The PyTorch side of :func:`bench_epoch`, in a process of its own: it loads
    the data and the model's initial weights itself, says its version and
    threads, then for each message ("turn", start, stop) trains on the
    examples order[start:stop] (gathered before the clock starts) and sends
    the seconds; a turn that starts at 0 starts an epoch from fresh weights."""
    import torch

    data = load_dataset("mnist", data_dir)
    model = build_model(model_spec, seed=0)
    x, y = to_inputs(data.train.images, model.input_shape), data.train.labels
    order = np.random.default_rng(0).permutation(len(x))
    conn.send((torch.__version__, torch.get_num_threads()))
    net = optimizer = None
    while (request := conn.recv()) != "stop":
        _, start, stop = request
        if start == 0:
            net = torch_twin(build_model(model_spec, seed=0))
            optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
        chosen = order[start:stop]
        conn.send(_torch_steps(net, optimizer, x[chosen], y[chosen], batch_size))
    conn.close()


@shared_docstring(epoch=EPOCH)
class TorchChild:
    """A spawned process that times PyTorch training, turn by turn (see :func:`_torch_worker`).

    The child loads MNIST and builds ``model_spec`` with the initial weights
    of seed 0 itself, as tdnumpy's side does, and waits for requests.

    Parameters
    ----------
    {{epoch}}
    data_dir : str, os.PathLike or None
        Folder holding the MNIST files (None: the usual look-up).

    Attributes
    ----------
    version : str
        ``torch.__version__`` in the child.
    threads : int
        ``torch.get_num_threads()`` in the child.

    Raises
    ------
    RuntimeError
        If the child ends before answering (PyTorch missing or broken).
    """

    def __init__(self, model_spec, batch_size, lr, momentum, data_dir):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_torch_worker, daemon=True, args=(child, model_spec, batch_size, lr, momentum, data_dir)
        )
        self.process.start()
        child.close()
        self.version, self.threads = self._receive()

    def _receive(self):
        try:
            return self.conn.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError(
                f"the PyTorch process ended (exit code {self.process.exitcode}); run "
                f"python -c 'import torch' to see why"
            ) from None

    def turn(self, start: int, stop: int) -> float:
        """Train the child's network on the examples ``order[start:stop]`` of the
        epoch's order (from fresh initial weights when ``start`` is 0).

        Parameters
        ----------
        start, stop : int
            The turn's slice of the epoch's example order; turns must follow
            one another from 0.

        Returns
        -------
        float
            The seconds, timed in the child.
        """
        self.conn.send(("turn", start, stop))
        return self._receive()

    def close(self) -> None:
        """Ask the child to stop and wait up to 30 s for it to end."""
        self.conn.send("stop")
        self.process.join(timeout=30)
