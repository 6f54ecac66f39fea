// The TOML reader of AuthSettings' [[users]]: config.cc's only (the TOML
// library stays private to the config library).
#pragma once

#include <toml++/toml.h>

#include <string_view>

#include "config/auth_config.h"

namespace gossipkv {

// Reads the [[users]] array of tables into `out`.
Status ReadUsers(toml::node& users, std::string_view source, AuthSettings& out);

}  // namespace gossipkv
