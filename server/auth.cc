// Authenticator: SHA-256 and constant-time comparison from OpenSSL.
#include "server/auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server/command_executor.h"
#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {
namespace {

// Compares every byte whatever differs first, so the time taken tells
// nothing of where a guess went wrong.
bool SameHash(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string Authenticator::Hash(std::string_view password) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(password.data(), password.size(), digest, &size, EVP_sha256(),
             nullptr);
  std::string out = "sha256:";
  for (unsigned int i = 0; i < size; ++i)
    out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::optional<Role> Authenticator::Check(std::string_view user,
                                         std::string_view password) const {
  // Every stored hash is compared, whoever is named, so the time taken
  // tells neither which users exist nor where a guess went wrong.
  const std::string hashed = Hash(password);
  std::optional<Role> role;
  const bool as_default = user == "default";
  if (SameHash(hashed, settings_.requirepass) && as_default &&
      has_default_password())
    role = Role::kAdmin;
  for (const auto& u : settings_.users) {
    if (SameHash(hashed, u.password) && u.name == user) role = u.role;
  }
  return role;
}

bool SessionAuth::Admit(const std::vector<std::string>& args, std::string& out,
                        uint64_t& failures) {
  const std::string command = AsciiUpper(args[0]);
  if (command == "AUTH") {
    if (args.size() < 2 || args.size() > 3) {
      resp::AppendError(out,
                        "ERR wrong number of arguments for 'auth' command");
      return false;
    }
    if (!authenticator_.required() ||
        (args.size() == 2 && !authenticator_.has_default_password())) {
      resp::AppendError(
          out,
          "ERR AUTH <password> called without any password configured for "
          "the default user. Are you sure your configuration is correct?");
      return false;
    }
    const std::string user = args.size() == 3 ? args[1] : "default";
    if (auto role = authenticator_.Check(user, args.back())) {
      role_ = role;
      user_ = user;
      resp::AppendSimple(out, "OK");
    } else {
      ++failures;
      resp::AppendError(
          out, "WRONGPASS invalid username-password pair or user is disabled.");
    }
    return false;
  }
  // As Redis: an unknown command is named so before any login check.
  const std::optional<Role> needed = CommandExecutor::RoleOf(command);
  if (command == "QUIT" || !needed) return true;
  if (!role_) {
    resp::AppendError(out, "NOAUTH Authentication required.");
    return false;
  }
  if (*role_ < *needed) {
    resp::AppendError(
        out, fmt::format("NOPERM User {} has no permissions to run the '{}' "
                         "command",
                         user_, AsciiLower(EscapeForDisplay(args[0], 32))));
    return false;
  }
  return true;
}

}  // namespace gossipkv
