"""How XLA partitions our custom calls over a mesh.

XLA's partitioner cannot see into a custom call. Two attributes let it run
ours shard by shard on the batch (leading) axes, exactly as jax's own linalg
FFI lowerings do:

* ``mhlo.frontend_attributes = {num_batch_dims = "r-1"}`` for GSPMD, paired
  with ``jax.ffi.register_ffi_target_as_batch_partitionable`` (public);
* ``sdy.sharding_rule`` ``(... d) -> (... d)`` for Shardy, with ``d`` a
  *need-replication* factor: a shard of the last axis alone is not a smaller
  Hadamard transform, so Shardy must gather that axis before the call.

That batch partitioner rebuilds the call for each shard without its
input-output alias, so an in-place call (``inplace=True``, donated) would run
out of place and then be copied into the donated buffer. In-place calls on
several devices therefore go through ``by_shard``: a
``custom_partitioning`` rule that gives each device its rows whole and
lowers the call once per shard, in a fully manual context, where the alias
stays (as inside ``shard_map``).

The rule objects are public (``jax.experimental.custom_partitioning``); three
pieces this needs are not, so those private imports live here, and
``tests/test_sharding.py`` fails loudly if one moves.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
from jax.experimental.custom_partitioning import (
    BATCHING,
    ArrayMapping,
    SdyShardingRule,
    custom_partitioning,
)
from jax.interpreters import mlir
from jax.sharding import NamedSharding, PartitionSpec

from jax._src.custom_partitioning_sharding_rule import (  # private: see docstring
    sdy_sharding_rule_to_mlir,
)
from jax._src.dispatch import prim_requires_devices_during_lowering  # private
from jax._src.sharding_impls import ShardingContext  # private

_LAST_AXIS = "d"


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
            [mlir.aval_to_ir_type(ctx.module_context, aval_in)],
            [mlir.aval_to_ir_type(ctx.module_context, aval_out)],
        )
    return attributes


def is_auto_partitioned(ctx: mlir.LoweringRuleContext) -> bool:
    """Whether this lowering is for XLA's partitioner over several devices
    (`jax.jit` of sharded arrays), not for one device or one shard
    (`shard_map`, or `by_shard`'s own per-shard lowering)."""
    axis_context = ctx.module_context.axis_context
    return isinstance(axis_context, ShardingContext) and axis_context.num_devices > 1


def lowers_with_devices(primitive) -> None:
    """`by_shard`'s rule needs the device assignment while lowering, which
    jit provides only for primitives registered as needing it."""
    prim_requires_devices_during_lowering.add(primitive)


def _whole_rows(mesh, shape) -> NamedSharding:
    # The operand's sharding with its last axis gathered.
    sharding = shape.sharding
    if not isinstance(sharding, NamedSharding):
        # A sharding given without mesh axes (GSPMD's own): whole arrays.
        return NamedSharding(mesh, PartitionSpec())
    spec = tuple(sharding.spec) + (None,) * (len(shape.shape) - len(sharding.spec))
    return NamedSharding(mesh, PartitionSpec(*spec[:-1], None))


def by_shard(local: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """`local`, a transform of each row along the last axis, run by each
    device on its own whole rows: leading axes stay sharded as they are, the
    last axis is gathered first if it is sharded."""
    run = custom_partitioning(local)

    def infer_sharding_from_operands(mesh, arg_shapes, result_shape):
        del result_shape
        return _whole_rows(mesh, arg_shapes[0])

    def partition(mesh, arg_shapes, result_shape):
        del result_shape
        rows = _whole_rows(mesh, arg_shapes[0])
        return mesh, local, rows, (rows,)

    run.def_partition(partition=partition,
                      infer_sharding_from_operands=infer_sharding_from_operands,
                      sharding_rule=_transform_rule())
    return run
