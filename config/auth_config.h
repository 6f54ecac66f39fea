// Client authentication settings: Redis's `requirepass` ([client]
// requirepass) for the default user, and named users ([[users]] name,
// password, role). Passwords are stored hashed: "sha256:" followed by the
// 64 hex digits of the password's SHA-256 (`printf %s secret | sha256sum`).
// Roles nest: read (GET, MGET, VGET, EXISTS, INFO...), write (adds SET,
// DEL, MSET, VSET, VDEL), admin (adds FAULT, CLUSTER, CONFIG); the default
// user is admin. With neither set, every client may run every command.
// Value types; used by Config and the server (server/auth.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace gossipkv {

enum class Role { kRead, kWrite, kAdmin };

struct User {
  std::string name;
  std::string password;  // "sha256:<hex>"
  Role role = Role::kRead;
};

struct AuthSettings {
  std::string requirepass;  // "sha256:<hex>", or empty: no default password
  std::vector<User> users;

  bool enabled() const { return !requirepass.empty() || !users.empty(); }
  // The hashed form of each password; user names unique, not "default".
  Status Validate() const;
};

}  // namespace gossipkv
