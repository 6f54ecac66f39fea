// ClusterCertificates: runs `openssl req` and `openssl x509` per file.
#include "cli/cluster_certs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

extern char** environ;

namespace gossipkv {
namespace {

namespace fs = std::filesystem;

// Runs openssl with `args`, its output to <dir>/openssl.log; an error
// naming the step if it fails.
Status Openssl(const std::string& dir, std::vector<std::string> args,
               const std::string& what) {
  args.insert(args.begin(), "openssl");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir + "/openssl.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc =
      posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return Status::IOError(fmt::format(
        "cannot run openssl to {} ({}): install it (scripts/bootstrap.sh)",
        what, std::strerror(rc)));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status::IOError(
        fmt::format("openssl failed to {}: see {}", what, log));
  return Status::Ok();
}

}  // namespace

Status MakeClusterCertificates(const std::string& dir, int nodes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  const std::string ca_key = dir + "/ca.key", ca_crt = dir + "/ca.crt";
  if (!fs::exists(ca_crt)) {
    GOSSIPKV_RETURN_IF_ERROR(
        Openssl(dir,
                {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                 "365", "-subj", "/CN=gossipkv local cluster CA", "-keyout",
                 ca_key, "-out", ca_crt},
                "make the cluster CA"));
  }
  for (int i = 1; i <= nodes; ++i) {
    const std::string name = fmt::format("n{}", i);
    const std::string base = dir + "/" + name;
    if (fs::exists(base + ".crt")) continue;
    GOSSIPKV_RETURN_IF_ERROR(
        Openssl(dir,
                {"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                 "-keyout", base + ".key", "-out", base + ".csr"},
                "make " + name + "'s key"));
    {
      std::ofstream ext(base + ".ext", std::ios::trunc);
      ext << "subjectAltName=DNS:" << name << "\n"
          << "extendedKeyUsage=serverAuth,clientAuth\n";
      if (!ext) return Status::IOError("cannot write " + base + ".ext");
    }
    GOSSIPKV_RETURN_IF_ERROR(
        Openssl(dir,
                {"x509", "-req", "-in", base + ".csr", "-CA", ca_crt, "-CAkey",
                 ca_key, "-CAcreateserial", "-days", "365", "-extfile",
                 base + ".ext", "-out", base + ".crt"},
                "sign " + name + "'s certificate"));
    fs::remove(base + ".csr", ec);
    fs::remove(base + ".ext", ec);
  }
  return Status::Ok();
}

std::string PeerTlsToml(const std::string& dir, const std::string& node) {
  return fmt::format(
      "tls = \"on\"                # mutual TLS: certificates of {0}/ca.crt\n"
      "tls_cert_file = \"{0}/{1}.crt\"\ntls_key_file = \"{0}/{1}.key\"\n"
      "tls_ca_cert_file = \"{0}/ca.crt\"\n",
      dir, node);
}

}  // namespace gossipkv
