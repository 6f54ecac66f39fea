// ServerProcess: runs gossipkv-server as a child process for real-process
// tests. Picks a free port (port 0; the bound port is read back from the
// node's endpoints file), owns a temporary data directory unless given one,
// and stops the process (SIGTERM, then SIGKILL) when destroyed. Tests only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/resp_client.h"
#include "tests/temp_dir.h"

namespace gossipkv::testing {

class ServerProcess {
 public:
  // Starts the server with `config_toml` (written to a file) and `extra_args`,
  // on `data_dir` if given (the caller owns it), else on a directory of its
  // own. Fails the current test (and returns a stopped process) if it does
  // not come up within a few seconds.
  explicit ServerProcess(std::string config_toml = "",
                         std::vector<std::string> extra_args = {},
                         std::string data_dir = "");
  ~ServerProcess();

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  // The peer address the node advertises ("127.0.0.1:port").
  const std::string& peer_address() const { return peer_address_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }

  // SIGTERM and wait; returns the exit status (or -1).
  int Stop();
  // SIGKILL and wait.
  void Kill();
  // Waits up to `timeout` for the process to exit by itself; its exit
  // status, or -1 if it is still running (or was not).
  int WaitExit(std::chrono::milliseconds timeout);
  // Starts again on the same data directory (port may change).
  void Restart();

  std::unique_ptr<RespClient> Connect();

 private:
  void Launch();
  // Takes the ports from the node's "serving clients on ..." log line once
  // the node has logged that it could not write its endpoints file, looking
  // only past byte `from` of `log`; false until then.
  bool ReadServingLine(const std::string& log, uintmax_t from);

  TempDir dir_;
  std::string data_dir_;
  std::string config_path_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string peer_address_;
};

// A cluster node: `config` plus --node-id, --fault-injection and, unless
// empty, --seeds `seed`.
std::unique_ptr<ServerProcess> StartClusterNode(const std::string& config,
                                                const std::string& id,
                                                const std::string& seed);

// The value of field `name` in INFO section `section` of `node`, or "" if
// the reply lacks it.
std::string InfoField(ServerProcess& node, const std::string& section,
                      const std::string& name);

// Path of a built binary, set by CMake.
std::string ServerBinary();

// Polls `done` every 20 ms until it holds or `timeout` passes (real
// processes on loopback have no virtual clock to advance).
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout);

}  // namespace gossipkv::testing
