// CommandExecutor: what reads at a level above ONE add — the owners'
// answers a session fetched (ReadView) joined with this node's entry, and
// -NOREPLICAS for a key too few owners answered.
#include <fmt/format.h>

#include <algorithm>

#include "server/command_call.h"
#include "server/resp_writer.h"
#include "util/bytes.h"

namespace gossipkv {

std::vector<std::string> CommandExecutor::QuorumReadKeys(
    const std::vector<std::string>& args) {
  if (args.size() < 2) return {};
  const std::string name = AsciiUpper(args[0]);
  if (name == "GET" && args.size() == 2) return {args[1]};
  if (name == "VGET" && args.size() == 2) return {args[1]};
  if (name == "MGET" || name == "EXISTS" || name == "DEL")
    return {args.begin() + 1, args.end()};
  return {};
}

bool CommandExecutor::CheckReadQuorum(Call& c, size_t first) {
  if (view_ == nullptr || view_->level <= 1) return true;
  if (!view_->failed.ok()) {
    StorageError(c, view_->failed);
    return false;
  }
  uint32_t fewest = view_->level;
  for (size_t i = first; i < c.args.size(); ++i) {
    auto it = view_->reads->find(c.args[i]);
    fewest =
        std::min(fewest, it == view_->reads->end() ? 0 : it->second.answered);
  }
  if (fewest >= view_->level) return true;
  resp::AppendError(c.out,
                    fmt::format("NOREPLICAS only {} of the {} replicas needed "
                                "answered within {} ms",
                                fewest, view_->level, view_->timeout_ms));
  ++stats_.error_replies;
  ++stats_.read_quorum_failures;
  return false;
}

Result<std::optional<Entry>> CommandExecutor::ReadKey(Call& c,
                                                      const std::string& key) {
  auto local = c.batch.Read(key);
  if (!local || view_ == nullptr || view_->level <= 1) return local;
  auto it = view_->reads->find(key);
  if (it == view_->reads->end() || !it->second.entry) return local;
  if (!local->has_value()) return it->second.entry;
  return std::optional<Entry>(
      Merge(**local, *it->second.entry, store_.options().conflict_mode));
}

void CommandExecutor::AdoptQuorumRead(Call& c, const std::string& key) {
  // A failed read may hold what was never stored: this node's entry alone.
  if (view_ == nullptr || view_->level <= 1 || !view_->failed.ok()) return;
  auto it = view_->reads->find(key);
  if (it == view_->reads->end() || !it->second.entry) return;
  (void)c.batch.Merge(key, *it->second.entry, kRepair);  // errors: read next
}

}  // namespace gossipkv
