// RESP2 reply encoding: appends one reply value to an output buffer.
// Free functions over std::string; any thread. Used by the command layer to
// answer clients and by tests to build expected replies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gossipkv::resp {

void AppendSimple(std::string& out, std::string_view text);  // +OK
void AppendError(std::string& out,
                 std::string_view text);  // -ERR ... (newlines replaced)
void AppendInteger(std::string& out, int64_t value);        // :42
void AppendBulk(std::string& out, std::string_view bytes);  // $3\r\nabc
void AppendNull(std::string& out);                          // $-1
void AppendNullArray(std::string& out);                     // *-1
void AppendArrayHeader(std::string& out, size_t count);     // *n, then n values

}  // namespace gossipkv::resp
