# Writes OUT, a C++ file defining gqa::serve::web_assets() over the bytes of FILES (names in
# WEB_DIR). Run by the build (cmake -P) whenever one of the files changes.
set(body "")
set(table "")
set(i 0)
foreach(name IN LISTS FILES)
  file(READ "${WEB_DIR}/${name}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND body "const char kAsset${i}[] = {${bytes}};\n")
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    set(type "application/octet-stream")
  endif()
  string(APPEND table "    {\"${name}\", \"${type}\", {kAsset${i}, sizeof(kAsset${i})}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from web/planner by cmake/embed_web_assets.cmake; do not edit.
#include \"serve/web_assets.h\"

namespace gqa::serve {
namespace {
${body}
const WebAsset kAssets[] = {
${table}};
}  // namespace

std::span<const WebAsset> web_assets() { return kAssets; }

}  // namespace gqa::serve
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
