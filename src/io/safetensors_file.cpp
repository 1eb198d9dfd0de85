#include "io/safetensors_file.h"

#include "core/error.h"

namespace gqa::io {

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : map_(path), header_(parse_safetensors_header(map_.bytes(), path.string())) {
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

TensorView SafetensorsFile::view(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end())
    fail(ErrorKind::kInvalidArgument, path().string() + ": no tensor named '" + name + "'");
  return view(header_.tensors[it->second]);
}

TensorView SafetensorsFile::view(const TensorInfo& t) const {
  return TensorView{t.name, t.dtype, t.shape,
                    map_.bytes().subspan(header_.data_offset + t.begin, t.nbytes())};
}

void SafetensorsFile::release(const TensorInfo& t) const {
  map_.release(header_.data_offset + t.begin, t.nbytes());
}

}  // namespace gqa::io
