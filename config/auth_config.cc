// AuthSettings: the [[users]] reader and the checks of hashed passwords.
#include "config/auth_config.h"

#include <fmt/format.h>

#include <set>

#include "config/auth_config_reader.h"

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

Status ReadUsers(toml::node& users, std::string_view source,
                 AuthSettings& out) {
  auto where = [&](const toml::node& n) {
    return fmt::format("{}:{}", source, n.source().begin.line);
  };
  toml::array* array = users.as_array();
  if (array == nullptr || !array->is_array_of_tables())
    return Status::InvalidArgument(fmt::format(
        "{}: 'users' must be an array of tables ([[users]])", where(users)));
  for (toml::node& n : *array) {
    toml::table& t = *n.as_table();
    User user;
    std::string role = "read";
    for (auto& [key, value] : t) {
      const std::string k(key.str());
      auto text = value.value<std::string>();
      if (!text)
        return Status::InvalidArgument(
            fmt::format("{}: users.{} must be a string", where(value), k));
      if (k == "name") {
        user.name = *text;
      } else if (k == "password") {
        user.password = *text;
      } else if (k == "role") {
        role = *text;
      } else {
        return Status::InvalidArgument(
            fmt::format("{}: unknown key 'users.{}'", where(value), k));
      }
    }
    if (role == "read") {
      user.role = Role::kRead;
    } else if (role == "write") {
      user.role = Role::kWrite;
    } else if (role == "admin") {
      user.role = Role::kAdmin;
    } else {
      return Status::InvalidArgument(
          fmt::format("{}: users.role must be read, write or admin, not \"{}\"",
                      where(n), role));
    }
    out.users.push_back(std::move(user));
  }
  return Status::Ok();
}

}  // namespace gossipkv
