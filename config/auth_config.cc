// AuthSettings: the checks of hashed passwords and user names.
#include "config/auth_config.h"

#include <fmt/format.h>

#include <set>

namespace gossipkv {
namespace {

bool IsHashed(std::string_view password) {
  constexpr std::string_view kPrefix = "sha256:";
  if (password.size() != kPrefix.size() + 64 ||
      password.substr(0, kPrefix.size()) != kPrefix)
    return false;
  for (char c : password.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status NotHashed(std::string_view what) {
  return Status::InvalidArgument(fmt::format(
      "{} must be stored hashed: \"sha256:\" and 64 lowercase hex digits "
      "(printf %s PASSWORD | sha256sum)",
      what));
}

}  // namespace

Status AuthSettings::Validate() const {
  if (!requirepass.empty() && !IsHashed(requirepass))
    return NotHashed("client.requirepass");
  std::set<std::string> names;
  for (const auto& u : users) {
    if (u.name.empty() || u.name == "default")
      return Status::InvalidArgument(
          "users: each needs a name, and \"default\" is requirepass's");
    if (!names.insert(u.name).second)
      return Status::InvalidArgument(
          fmt::format("users: \"{}\" appears twice", u.name));
    if (!IsHashed(u.password))
      return NotHashed(fmt::format("the password of user \"{}\"", u.name));
  }
  return Status::Ok();
}

}  // namespace gossipkv
