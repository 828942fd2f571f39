// The CPU fast Walsh-Hadamard transform: y = scale * H_d x on each row.
#pragma once

#include <cstdint>

namespace jaxhada {

// 16-bit floats arrive as raw bits; the tag types keep f16 and bf16 apart in
// the template below without depending on a compiler's half type.
struct Float16Bits {
  uint16_t bits;
};
struct Bfloat16Bits {
  uint16_t bits;
};

// Transforms rows [row_begin, row_end) of a contiguous (rows, 2^log2_d)
// array. `in` and `out` may be the same buffer. 16-bit types accumulate in
// float and round once at the store; float64 stays in float64.
template <typename T>
void HadamardRowsCpu(const T* in, T* out, int64_t row_begin, int64_t row_end,
                     int log2_d, double scale);

// Rows per work item such that a work item fills the L1/L2-friendly tile:
// short rows are grouped, so a huge batch of d = 16 rows is not scheduled
// row by row.
int64_t RowsPerWorkItem(int log2_d);

}  // namespace jaxhada
