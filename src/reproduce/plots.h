#pragma once
// The reproduce plots, as SVG: held-out perplexity against KV heads per conversion method and
// alpha, and against alpha per KV-head count (mean pooling).
#include <string>

#include "reproduce/experiment.h"

namespace gqa::reproduce {

std::string ppl_vs_kv_heads_svg(const Results& r);
std::string ppl_vs_alpha_svg(const Results& r);

}  // namespace gqa::reproduce
