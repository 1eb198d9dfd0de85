#pragma once
// The kernels' name for a stored weight matrix (see core/matrix_view.h).
#include "core/matrix_view.h"

namespace gqa::ops {

using Matrix = MatrixView;

}  // namespace gqa::ops
