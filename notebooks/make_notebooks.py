"""Writes the notebooks in this folder from the cells below, then executes them.

    python notebooks/make_notebooks.py            # write and execute all
    python notebooks/make_notebooks.py --no-run   # write only

The notebooks are committed executed, so that they read well on a code host;
edit the cells here, not in the .ipynb files, and rerun this script.
tests/test_notebooks.py executes the committed notebooks again.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip())


QUICKSTART = [
    md("""
    # jaxhada quickstart

    `jaxhada.hadamard_transform(x)` computes `x @ H_d / sqrt(d)` along the last
    axis, where `H_d` is the Sylvester Hadamard matrix and `d` a power of two up
    to 32768. It is a JAX primitive: it works under `jit`, `vmap`, `grad` and
    `jvp`, and on CPU it lowers to a C++ kernel (an O(d log d) fast
    Walsh-Hadamard transform) instead of a d x d matmul.
    """),
    code("""
    import functools
    import json

    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxhada

    print(json.dumps(jaxhada.build_info(), indent=2, default=str))
    """),
    md("""
    ## The transform on a batch

    Leading axes are batch axes: here 4 sequences x 8 heads x head size 256.
    """),
    code("""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((4, 8, 256)), jnp.float32)
    y = jaxhada.hadamard_transform(x)
    print(y.shape, y.dtype)
    print(y[0, 0, :6])
    """),
    md("""
    ## `jit`, `vmap`, `grad`, `jvp`

    The transform is linear and `H` is symmetric, so its derivative and its
    transpose are the transform itself: the gradient of `sum(H(x) * w)` is `H(w)`
    and the tangent of `H` at any point in direction `t` is `H(t)`.
    """),
    code("""
    np.testing.assert_allclose(jax.jit(jaxhada.hadamard_transform)(x), y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jax.vmap(jaxhada.hadamard_transform)(x), y, rtol=1e-6, atol=1e-6)

    w = jnp.asarray(rng.standard_normal(x.shape), jnp.float32)
    grad = jax.grad(lambda x: jnp.sum(jaxhada.hadamard_transform(x) * w))(x)
    np.testing.assert_allclose(grad, jaxhada.hadamard_transform(w), rtol=1e-5, atol=1e-5)

    t = jnp.asarray(rng.standard_normal(x.shape), jnp.float32)
    primal, tangent = jax.jvp(jaxhada.hadamard_transform, (x,), (t,))
    np.testing.assert_allclose(tangent, jaxhada.hadamard_transform(t), rtol=1e-5, atol=1e-5)
    print("jit, vmap, grad and jvp agree with the eager transform")
    """),
    md("""
    ## Involution and norm preservation

    `H_d / sqrt(d)` is orthogonal and symmetric, hence its own inverse: applying
    it twice gives `x` back, and it preserves the norm of every row.
    """),
    code("""
    twice = jaxhada.hadamard_transform(y)
    print("max |H(H(x)) - x|:", float(jnp.max(jnp.abs(twice - x))))
    np.testing.assert_allclose(twice, x, rtol=1e-5, atol=1e-5)

    norms_in, norms_out = jnp.linalg.norm(x, axis=-1), jnp.linalg.norm(y, axis=-1)
    print("max relative norm change:", float(jnp.max(jnp.abs(norms_out / norms_in - 1))))
    np.testing.assert_allclose(norms_out, norms_in, rtol=1e-5)
    """),
    md("""
    ## In place, with a donated buffer

    `inplace=True` lets the result reuse the input's memory, but only when the
    input is donated to the enclosing `jax.jit`. The donated array is invalid
    afterwards, so donate a copy if you still need it.
    """),
    code("""
    rotate_inplace = jax.jit(
        functools.partial(jaxhada.hadamard_transform, inplace=True), donate_argnums=0
    )
    buffer = jnp.copy(x)
    out = rotate_inplace(buffer)
    np.testing.assert_allclose(out, y, rtol=1e-6, atol=1e-6)
    print("donated buffer deleted:", buffer.is_deleted())
    """),
    md("""
    ## The matrix

    `hadamard_matrix(d, dtype)` returns the normalized matrix itself, cached:
    the same array comes back for the same `(d, dtype)`. It is handy for tests
    and for folding the rotation into a weight matrix offline.
    """),
    code("""
    H = jaxhada.hadamard_matrix(256, jnp.float32)
    assert jaxhada.hadamard_matrix(256, jnp.float32) is H
    print("top-left corner times sqrt(d):")
    print(np.asarray(H[:4, :8] * 16).astype(int))
    np.testing.assert_allclose(x @ H, y, rtol=1e-5, atol=1e-5)
    print("x @ hadamard_matrix(256) matches hadamard_transform(x)")
    """),
    md("""
    ## Errors you may meet

    The last axis must be a power of two no larger than 32768 (with the same
    messages as the vLLM helpers this library ports), and the input needs at
    least one axis.
    """),
    code("""
    for bad in [jnp.ones((2, 48)), jnp.ones((1, 65536)), jnp.float32(1.0)]:
        try:
            jaxhada.hadamard_transform(bad)
        except ValueError as error:
            print(f"shape {bad.shape}: ValueError: {error}")
    """),
]


INT4_KV_CACHE = [
    md("""
    # INT4 KV cache with a Hadamard rotation

    vLLM's INT4 KV cache stores each key and value row (one token, one head) as
    4-bit integers with one absmax scale per group of 32 channels, and rotates
    queries and keys by a normalized Hadamard transform before quantizing the
    keys. This notebook reproduces that in JAX with `jaxhada.int4` and measures
    what the rotation buys.

    Why it helps: LLM keys have a few *outlier channels* whose magnitude is
    10-50x that of the others, in the same channels for every token. Inside a
    group of 32 channels such an outlier sets the scale, and the other 31
    channels are rounded to a handful of levels or to zero. The rotation is
    orthogonal, so `(q H)(k H)^T = q k^T` and attention scores do not change,
    but it spreads each outlier over all channels, so every group gets a
    similar, smaller scale.
    """),
    code("""
    import functools

    import jax
    import jax.numpy as jnp
    import matplotlib.pyplot as plt
    import numpy as np

    from jaxhada import hadamard_transform
    from jaxhada.int4 import dequantize_int4, quantize_int4, rotate_qk

    HEADS, TOKENS, QUERIES = 32, 512, 64
    """),
    md("""
    ## Synthetic keys, queries and values

    Nothing is downloaded: the keys are synthetic, built with the structure
    reported for real LLM keys (KIVI and KVQuant both observe that key outliers
    are per channel and persist across tokens, while values show no such
    channel structure):

    * per-channel scales drawn log-normally, and in every head 4 outlier
      channels scaled by a further 10-50x;
    * a per-channel offset, so an outlier channel keeps its sign across tokens;
    * a per-token magnitude (log-normal), as some tokens have larger keys.

    Queries are Gaussian with milder per-channel scales; values are plain
    Gaussian and are **not** rotated (they reach the output through `p @ v`,
    not through a dot product with a rotated partner). Queries are scaled so
    that the logits `q k^T / sqrt(d)` have standard deviation 2: a softmax that
    is neither uniform nor one-hot.
    """),
    code("""
    def make_qkv(d, n_outliers=4, seed=0):
        rng = np.random.default_rng(seed)
        channel_scale = rng.lognormal(0.0, 0.5, (HEADS, 1, d))
        for head in range(HEADS):
            outliers = rng.choice(d, n_outliers, replace=False)
            channel_scale[head, 0, outliers] *= rng.uniform(10, 50, n_outliers)
        channel_offset = rng.standard_normal((HEADS, 1, d))
        token_scale = rng.lognormal(0.0, 0.3, (HEADS, TOKENS, 1))
        k = channel_scale * (rng.standard_normal((HEADS, TOKENS, d)) + channel_offset) * token_scale
        q = rng.standard_normal((HEADS, QUERIES, d)) * rng.lognormal(0.0, 0.5, (HEADS, 1, d))
        v = rng.standard_normal((HEADS, TOKENS, d))
        logits = np.einsum("hqd,hkd->hqk", q, k) / np.sqrt(d)
        q *= 2.0 / logits.std(axis=(1, 2), keepdims=True)
        return tuple(jnp.asarray(a, jnp.float32) for a in (q, k, v))


    q, k, v = make_qkv(128)
    print("q", q.shape, "k", k.shape, "v", v.shape)
    """),
    md("""
    ## The rotation leaves `q k^T` unchanged
    """),
    code("""
    q_rot, k_rot = rotate_qk(q, k)
    scores = jnp.einsum("hqd,hkd->hqk", q, k)
    scores_rot = jnp.einsum("hqd,hkd->hqk", q_rot, k_rot)
    rel = float(jnp.linalg.norm(scores_rot - scores) / jnp.linalg.norm(scores))
    print(f"relative difference of q k^T after rotation: {rel:.1e}")
    assert rel < 1e-5
    """),
    md("""
    ## Per-channel magnitude before and after the rotation

    Mean `|k|` per channel for one head: the outlier spikes become a flat
    profile, which is what a per-group absmax scale wants.
    """),
    code("""
    fig, ax = plt.subplots(figsize=(8, 3))
    channels = np.arange(k.shape[-1])
    ax.bar(channels, np.abs(k[0]).mean(axis=0), width=1.0, label="original", alpha=0.7)
    ax.bar(channels, np.abs(k_rot[0]).mean(axis=0), width=1.0, label="rotated", alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel("channel")
    ax.set_ylabel("mean |k|")
    ax.set_title("head 0, d = 128")
    ax.legend()
    plt.show()
    """),
    md("""
    ## Quantization and attention error, with and without rotation

    The whole pipeline (rotate, quantize, dequantize, attend) is one jitted
    function; `rotate` is static, so each setting compiles once. Errors are
    relative L2 errors against full-precision attention:

    * **key MSE**: mean squared error of the dequantized keys, relative to the
      mean square of the keys (the rotation is orthogonal, so measuring it in
      the rotated basis is the same as rotating back);
    * **score error**: of the logits `q k^T / sqrt(d)`;
    * **output error**: of `softmax(q k^T / sqrt(d)) v`.
    """),
    code("""
    def attention(q, k, v):
        logits = jnp.einsum("hqd,hkd->hqk", q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        return logits, jnp.einsum("hqk,hkd->hqd", jax.nn.softmax(logits, axis=-1), v)


    @functools.partial(jax.jit, static_argnames="rotate")
    def int4_attention(q, k, v, rotate):
        if rotate:
            q, k = rotate_qk(q, k)
        k_hat = dequantize_int4(*quantize_int4(k, group_size=32), group_size=32)
        key_mse = jnp.mean((k_hat - k) ** 2) / jnp.mean(k**2)
        return (key_mse, *attention(q, k_hat, v))


    def relative_error(a, b):
        return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


    results = {}
    for d in (64, 128):
        q, k, v = make_qkv(d)
        logits, out = attention(q, k, v)
        for rotate in (False, True):
            key_mse, logits_hat, out_hat = int4_attention(q, k, v, rotate=rotate)
            results[d, rotate] = dict(
                key_mse=float(key_mse),
                score=relative_error(logits_hat, logits),
                output=relative_error(out_hat, out),
            )

    print(f"{'d':>4} {'rotated':>8} {'key MSE':>9} {'score err':>10} {'output err':>11}")
    for (d, rotate), r in results.items():
        print(f"{d:>4} {str(rotate):>8} {r['key_mse']:>9.2e} {r['score']:>10.3f} {r['output']:>11.3f}")
    for d in (64, 128):
        plain, rotated = results[d, False], results[d, True]
        print(f"d={d}: rotation divides the key MSE by {plain['key_mse'] / rotated['key_mse']:.1f}, "
              f"the score error by {plain['score'] / rotated['score']:.1f}, "
              f"the output error by {plain['output'] / rotated['output']:.1f}")
    """),
    code("""
    metrics = ["key_mse", "score", "output"]
    labels = ["key MSE (relative)", "score error", "output error"]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for ax, metric, label in zip(axes, metrics, labels):
        for i, rotate in enumerate((False, True)):
            heights = [results[d, rotate][metric] for d in (64, 128)]
            ax.bar(np.arange(2) + 0.4 * i, heights, width=0.4,
                   label="rotated" if rotate else "original")
        ax.set_xticks(np.arange(2) + 0.2, ["d = 64", "d = 128"])
        ax.set_title(label)
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    plt.show()
    """),
    md("""
    The rotation does not remove the outliers' energy, it shares it among all
    channels: every group's scale rises to the level set by the row's total
    energy (the flat profile above), but no group is left with 31 channels
    rounded to zero. So the gain is largest when the outliers are few (try
    `make_qkv(128, n_outliers=1)`) and shrinks as more channels carry the
    energy. The attention output error also includes the softmax's
    sensitivity to logit errors, which the rotation does not change.

    ## Memory

    Per element, the cache holds half a byte of codes plus a float32 scale
    shared by 32 elements: 0.625 bytes, against 2 for bfloat16.
    """),
    code("""
    packed, scales = quantize_int4(k)
    int4_bytes = packed.nbytes + scales.nbytes
    bf16_bytes = k.size * 2
    print(f"bfloat16 keys: {bf16_bytes / 2**20:.2f} MiB, INT4 keys + scales: "
          f"{int4_bytes / 2**20:.2f} MiB ({bf16_bytes / int4_bytes:.1f}x smaller)")
    """),
]


BENCHMARKS = [
    md("""
    # Benchmarks

    `jaxhada._bench.benchmark` times, for each length `d`, our transform (the
    FFI kernel where one was built), the portable dense lowering, the seed's
    single `d x d` matmul, and a memory-bound floor over the same bytes. On CPU
    the floor is an elementwise op (negation); on GPU it is a raw device copy.
    A ratio to the floor near 1 means the transform runs at memory speed.
    """),
    code("""
    import json
    from pathlib import Path

    import jax
    import jax.numpy as jnp
    import matplotlib.pyplot as plt

    from jaxhada import _bench

    print("backend:", jax.default_backend(), "-", jax.devices()[0].device_kind)
    """),
    md("""
    ## This machine

    Small sizes when there is no GPU, so the notebook runs in seconds on a
    laptop: 8 MiB of float32 per case. Each point is the median of a few calls
    of about a millisecond, so on a small or busy CPU single points are noisy;
    the trend with `d` is what to read.
    """),
    code("""
    on_gpu = jax.default_backend() == "gpu"
    sizes = [2**p for p in range(4, 16 if on_gpu else 13)]
    rows = _bench.benchmark([jnp.float32], sizes, (256 if on_gpu else 8) << 20, None)
    print(_bench.format_table(rows))
    """),
    code("""
    floor = rows[0]["floor"]
    d = [r["d"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(d, [r["ours_vs_floor"] for r in rows], "o-", label="ours")
    ax.plot(d, [r["dense_vs_floor"] for r in rows], "s--", label="dense lowering")
    seed = [(r["d"], r["seed_dense_ms"] / r[f"{floor}_ms"]) for r in rows if r["seed_dense_ms"]]
    ax.plot(*zip(*seed), "^:", label="seed's d x d matmul")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("d")
    ax.set_ylabel(f"time / {floor} time")
    ax.set_title(f"float32 on {jax.devices()[0].device_kind}")
    ax.legend()
    plt.show()
    """),
    md("""
    ## Committed GPU results

    `data/gpu_benchmark.json` is the output of `python -m jaxhada --json PATH` on
    a GPU machine, committed so that this notebook can show it without one.
    """),
    code("""
    path = Path("data") / "gpu_benchmark.json"
    if not path.exists():
        print(f"No GPU results are committed yet ({path} is missing).")
    else:
        results = json.loads(path.read_text())
        if "note" in results:
            print(results["note"])
        rows = results.get("benchmark", [])
        dtypes = sorted({r["dtype"] for r in rows})
        fig, axes = plt.subplots(1, len(dtypes), figsize=(4 * len(dtypes), 3.5),
                                 squeeze=False, sharey=True)
        for ax, dtype in zip(axes[0], dtypes):
            mine = sorted((r for r in rows if r["dtype"] == dtype), key=lambda r: r["d"])
            d = [r["d"] for r in mine]
            # ours_vs_floor is ours / copy when the run could time a raw copy:
            # the in-place step; runs since 2026-11-30 also time it out of place.
            ax.plot(d, [r["ours_vs_floor"] for r in mine], "o-", label="ours, in place")
            if all(r.get("ours_out_of_place_vs_floor") for r in mine):
                ax.plot(d, [r["ours_out_of_place_vs_floor"] for r in mine], "^-",
                        label="ours, out of place")
            ax.plot(d, [r["dense_vs_floor"] for r in mine], "s--", label="dense")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("d")
            ax.set_title(dtype)
        axes[0][0].set_ylabel(f"time / {rows[0]['floor']} time" if rows else "")
        axes[0][0].legend()
        fig.suptitle(f"{results.get('device', '?')}, {results.get('date', '?')}")
        fig.tight_layout()
        plt.show()
    """),
]


NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_int4_kv_cache.ipynb": INT4_KV_CACHE,
    "03_benchmarks.ipynb": BENCHMARKS,
}


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids: regenerating gives a clean diff
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="write without executing")
    parser.add_argument("names", nargs="*", help="notebooks to write (default: all)")
    args = parser.parse_args(argv)
    for name in args.names or NOTEBOOKS:
        nb = build(NOTEBOOKS[name])
        if not args.no_run:
            # record_timing=False keeps wall-clock stamps out of the committed JSON.
            NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                           resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
