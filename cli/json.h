// Minimal JSON output for the CLI's --json mode: string escaping that is
// safe for arbitrary bytes (non-UTF-8 bytes become \u00XX). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace gossipkv {

// The JSON string literal for `bytes`, quotes included.
std::string JsonString(std::string_view bytes);

}  // namespace gossipkv
