// The CLI's --json output, built with nlohmann::json (keys in the order
// written). Bytes that are valid UTF-8 go in as a JSON string; any other
// bytes go in base64-encoded, with "<field>_encoding": "base64" beside
// them, so the document is always valid UTF-8 and every value survives.
// Pure functions; used by the CLI's commands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gossipkv {

using Json = nlohmann::ordered_json;

// Sets object[field] to `bytes` (see above).
void SetBytes(Json& object, const std::string& field, std::string_view bytes);
// Whether `bytes` is valid UTF-8.
bool IsUtf8(std::string_view bytes);
// Standard base64 (RFC 4648, with padding).
std::string Base64(std::string_view bytes);
// Prints `j` on one line to stdout.
void PrintJson(const Json& j);

}  // namespace gossipkv
