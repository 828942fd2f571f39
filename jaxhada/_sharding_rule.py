"""Partitioning attributes for the FFI custom calls.

XLA's partitioner cannot see into a custom call. Two attributes let it run
ours shard by shard on the batch (leading) axes, exactly as jax's own linalg
FFI lowerings do:

* ``mhlo.frontend_attributes = {num_batch_dims = "r-1"}`` for GSPMD, paired
  with ``jax.ffi.register_ffi_target_as_batch_partitionable`` (public);
* ``sdy.sharding_rule`` ``(... d) -> (... d)`` for Shardy, with ``d`` a
  *need-replication* factor: a shard of the last axis alone is not a smaller
  Hadamard transform, so Shardy must gather that axis before the call.

The rule object is public (``jax.experimental.custom_partitioning``); turning
it into an MLIR attribute is not, so that one private import lives here, and
``tests/test_sharding.py`` fails loudly if it moves.
"""

from __future__ import annotations

import inspect

import jax
from jax.experimental.custom_partitioning import (
    BATCHING,
    ArrayMapping,
    SdyShardingRule,
)
from jax.interpreters import mlir

from jax._src.custom_partitioning_sharding_rule import (  # private: see docstring
    sdy_sharding_rule_to_mlir,
)

_LAST_AXIS = "d"
# aval_to_ir_type takes the module context first in jax 0.10.2 (and on),
# the aval alone in 0.10.0 and before.
_IR_TYPE_TAKES_CONTEXT = len(inspect.signature(mlir.aval_to_ir_type).parameters) == 2


def _transform_rule() -> SdyShardingRule:
    # BATCHING stands for every leading axis, whatever the rank.
    mapping = ArrayMapping(BATCHING, _LAST_AXIS)
    return SdyShardingRule(
        (mapping,), (mapping,), need_replication_factors=(_LAST_AXIS,)
    )


def batch_partitioning_attributes(ctx: mlir.LoweringRuleContext) -> dict:
    """Extra custom-call attributes making the call local on leading axes."""
    aval_in, = ctx.avals_in
    aval_out, = ctx.avals_out
    attributes = {
        "mhlo.frontend_attributes": mlir.ir_attribute(
            {"num_batch_dims": str(aval_in.ndim - 1)}
        )
    }
    if jax.config.jax_use_shardy_partitioner:
        attributes["sdy.sharding_rule"] = sdy_sharding_rule_to_mlir(
            _transform_rule(),
            [_ir_type(ctx, aval_in)],
            [_ir_type(ctx, aval_out)],
        )
    return attributes


def _ir_type(ctx: mlir.LoweringRuleContext, aval):
    if _IR_TYPE_TAKES_CONTEXT:
        return mlir.aval_to_ir_type(ctx.module_context, aval)
    return mlir.aval_to_ir_type(aval)
