// Authenticator: checks client passwords against the hashed ones of the
// config (config/auth_config.h) in constant time; SessionAuth admits a
// session's commands by the role each needs (CommandExecutor::RoleOf). One per
// node, shared by every client session of the listener; immutable, so any
// thread may call it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/auth_config.h"

namespace gossipkv {

class Authenticator {
 public:
  explicit Authenticator(AuthSettings settings)
      : settings_(std::move(settings)) {}

  // Whether clients must AUTH before other commands.
  bool required() const { return settings_.enabled(); }
  bool has_default_password() const { return !settings_.requirepass.empty(); }
  // The role `password` grants as `user` ("default": requirepass's admin),
  // or none.
  std::optional<Role> Check(std::string_view user,
                            std::string_view password) const;
  // "sha256:" and the hex SHA-256 of `password`.
  static std::string Hash(std::string_view password);

 private:
  AuthSettings settings_;
};

// One client session's authentication, as Redis answers it: until AUTH
// succeeds every command but AUTH and QUIT gets -NOAUTH; a failed AUTH gets
// -WRONGPASS; a command beyond the user's role gets -NOPERM. Session's
// thread only.
class SessionAuth {
 public:
  explicit SessionAuth(const Authenticator& authenticator)
      : authenticator_(authenticator) {
    if (!authenticator.required()) role_ = Role::kAdmin;
  }
  // Answers AUTH itself and refuses what this session may not run,
  // appending the reply to `out`; true when `args` is for the executor.
  // Counts failed AUTHs in `failures`.
  bool Admit(const std::vector<std::string>& args, std::string& out,
             uint64_t& failures);
  bool authenticated() const { return role_.has_value(); }

 private:
  const Authenticator& authenticator_;
  std::optional<Role> role_;  // none: not authenticated
  std::string user_ = "default";
};

}  // namespace gossipkv
