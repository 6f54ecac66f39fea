// CommandExecutor::Call: one command's arguments, batch and reply, as the
// handlers in command_executor.cc and command_cluster.cc take it. Private
// to those files.
#pragma once

#include <string>
#include <vector>

#include "server/command_executor.h"

namespace gossipkv {

struct CommandExecutor::Call {
  std::vector<std::string>& args;
  WriteSet& batch;
  std::string& out;
  After after = After::kContinue;
};

}  // namespace gossipkv
