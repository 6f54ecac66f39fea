// ServerProcess: fork/exec, readiness by polling for the endpoints file.
#include "tests/server_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace gossipkv::testing {

std::string ServerBinary() { return GOSSIPKV_SERVER_BINARY; }

std::unique_ptr<ServerProcess> StartClusterNode(const std::string& config,
                                                const std::string& id,
                                                const std::string& seed) {
  std::vector<std::string> args = {"--node-id", id, "--fault-injection"};
  if (!seed.empty()) args.insert(args.end(), {"--seeds", seed});
  return std::make_unique<ServerProcess>(config, args);
}

std::string InfoField(ServerProcess& node, const std::string& section,
                      const std::string& name) {
  auto client = node.Connect();
  if (!client) return "";
  auto reply = client->Call({"INFO", section});
  if (!reply) return "";
  const std::string& info = reply->text;
  const size_t at = info.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  const size_t start = at + name.size() + 2;
  return info.substr(start, info.find('\r', start) - start);
}

bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

bool ServerProcess::ReadServingLine(const std::string& log, uintmax_t from) {
  std::ifstream f(log);
  f.seekg(static_cast<std::streamoff>(from));
  const std::string clients = " serving clients on ", peers = " and peers on ";
  std::string line, client, peer;
  bool no_endpoints_file = false;
  while (std::getline(f, line)) {
    if (line.find("will not find this node") != std::string::npos)
      no_endpoints_file = true;
    const size_t c = line.find(clients), p = line.find(peers);
    if (c == std::string::npos || p == std::string::npos) continue;
    client = line.substr(c + clients.size(), p - c - clients.size());
    peer = line.substr(p + peers.size());
    peer = peer.substr(0, peer.find(' '));
  }
  if (!no_endpoints_file || client.empty()) return false;
  port_ =
      static_cast<uint16_t>(std::stoi(client.substr(client.rfind(':') + 1)));
  peer_address_ = peer;
  return true;
}

ServerProcess::ServerProcess(std::string config_toml,
                             std::vector<std::string> extra_args,
                             std::string data_dir)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  if (data_dir_.empty()) data_dir_ = (dir_.path() / "data").string();
  config_path_ = (dir_.path() / "node.toml").string();
  std::ofstream(config_path_) << config_toml;
  Launch();
}

ServerProcess::~ServerProcess() { Stop(); }

void ServerProcess::Launch() {
  const std::string endpoints = data_dir_ + "/endpoints";
  std::remove(endpoints.c_str());
  port_ = 0;
  peer_address_.clear();
  const std::string log = (dir_.path() / "server.log").string();
  std::error_code ignored;
  const uintmax_t log_start = std::filesystem::exists(log)
                                  ? std::filesystem::file_size(log, ignored)
                                  : 0;
  std::vector<std::string> args = {
      ServerBinary(), "--config", config_path_,  "--data-dir", data_dir_,
      "--port",       "0",        "--peer-port", "0"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    FILE* out = std::freopen(log.c_str(), "a", stderr);
    (void)out;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Readiness: the server writes its endpoints file once it listens.
  for (int i = 0; i < 500; ++i) {
    std::ifstream f(endpoints);
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("client=", 0) == 0) {
        port_ =
            static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
      } else if (line.rfind("peer=", 0) == 0) {
        peer_address_ = line.substr(5);
      }
    }
    if (port_ != 0 && !peer_address_.empty()) return;
    // A node that cannot write its endpoints file (a full disk) still logs
    // where it serves.
    if (ReadServingLine(log, log_start)) return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) break;  // died at start-up
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ifstream f(log);
  std::string text((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  ADD_FAILURE() << "server did not start; its log:\n" << text;
  Kill();
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 500; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM) {
        std::ifstream f(dir_.path() / "server.log");
        std::string text((std::istreambuf_iterator<char>(f)),
                         std::istreambuf_iterator<char>());
        ADD_FAILURE() << "server died of signal " << WTERMSIG(status)
                      << "; its log:\n"
                      << text.substr(text.size() > 4000 ? text.size() - 4000
                                                        : 0);
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "server ignored SIGTERM for 5 s";
  Kill();
  return -1;
}

int ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void ServerProcess::Restart() {
  Stop();
  Launch();
}

std::unique_ptr<RespClient> ServerProcess::Connect() {
  auto client =
      RespClient::Connect("127.0.0.1", port_, std::chrono::seconds(10));
  EXPECT_TRUE(client) << client.error().ToString();
  return client ? std::move(*client) : nullptr;
}

}  // namespace gossipkv::testing
