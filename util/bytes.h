// Byte-string helpers: fixed-width big-endian integers (ordered keys) and a
// printable rendering of arbitrary bytes for error messages and logs.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gossipkv {

void AppendBigEndian32(std::string& out, uint32_t value);
void AppendBigEndian64(std::string& out, uint64_t value);
// `bytes` must hold at least 4 (resp. 8) bytes.
uint32_t ReadBigEndian32(std::string_view bytes);
uint64_t ReadBigEndian64(std::string_view bytes);

// 'abc' stays abc; other bytes become \xNN; long inputs are cut with "...".
std::string EscapeForDisplay(std::string_view bytes, size_t max_chars = 64);

// ASCII case mapping (command names, option words); other bytes unchanged.
std::string AsciiUpper(std::string_view text);
std::string AsciiLower(std::string_view text);

// URL-safe base64 without padding, for opaque printable tokens.
std::string Base64UrlEncode(std::string_view bytes);
// Fails on characters outside the alphabet or an impossible length.
bool Base64UrlDecode(std::string_view text, std::string& out);

}  // namespace gossipkv
