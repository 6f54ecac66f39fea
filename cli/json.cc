// The CLI's JSON: UTF-8 checked by nlohmann::json's own serializer, other
// bytes base64-encoded.
#include "cli/json.h"

#include <cstdio>

namespace gossipkv {

bool IsUtf8(std::string_view bytes) {
  try {
    (void)Json(std::string(bytes)).dump();  // throws on invalid UTF-8
    return true;
  } catch (const Json::type_error&) {
    return false;
  }
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 |
                       (two ? static_cast<uint8_t>(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += two ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void SetBytes(Json& object, const std::string& field, std::string_view bytes) {
  if (IsUtf8(bytes)) {
    object[field] = std::string(bytes);
    return;
  }
  object[field] = Base64(bytes);
  object[field + "_encoding"] = "base64";
}

void PrintJson(const Json& j) { std::printf("%s\n", j.dump().c_str()); }

}  // namespace gossipkv
