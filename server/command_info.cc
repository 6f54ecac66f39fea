// CommandExecutor's INFO text: the sections it knows itself (stats,
// storage, keyspace) and those it asks the node for. Also read by the
// node's metrics, which turn each numeric field into a metric.
#include <fmt/format.h>

#include <cctype>

#include "server/command_executor.h"
#include "util/bytes.h"

namespace gossipkv {

void CommandExecutor::AppendStorageInfo(std::string& out) {
  const auto& tree = store_.tree();
  out += fmt::format(
      "keys:{}\r\nkeys_with_tombstones:{}\r\nmerkle_root:{:016x}\r\nmerkle_"
      "segments:{}\r\n"
      "merkle_depth:{}\r\nmerkle_memory_bytes:{}\r\nconflict_mode:{}\r\n"
      "writes_refused_disk:{}\r\nread_quorum_failures:{}\r\n",
      store_.live_key_count(), store_.key_count(), tree.Root(),
      tree.shape().segment_count(), tree.depth(), tree.MemoryBytes(),
      store_.options().conflict_mode == ConflictMode::kSiblings ? "siblings"
                                                                : "lww",
      stats_.writes_refused_disk, stats_.read_quorum_failures);
}

std::string CommandExecutor::InfoText(std::vector<std::string> asked) {
  static constexpr std::string_view kDefault[] = {
      "server", "clients",     "storage", "membership", "ring",
      "peers",  "replication", "stats",   "keyspace"};
  std::vector<std::string> sections;
  for (const auto& name : asked) {
    std::string s = AsciiLower(name);
    if (s == "all" || s == "everything" || s == "default") {
      sections.assign(std::begin(kDefault), std::end(kDefault));
      break;
    }
    sections.push_back(s);
  }
  if (sections.empty())
    sections.assign(std::begin(kDefault), std::end(kDefault));
  std::string text;
  for (const auto& section : sections) {
    std::string body;
    if (section == "storage") {
      AppendStorageInfo(body);
      node_.AppendInfo(section, body);
    } else if (section == "keyspace") {
      if (store_.live_key_count() > 0)
        body =
            fmt::format("db0:keys={},expires=0\r\n", store_.live_key_count());
    } else if (section == "stats") {
      body = fmt::format(
          "total_commands_processed:{}\r\nerror_replies:{}\r\nkeys_written:{}"
          "\r\n"
          "storage_errors:{}\r\n",
          stats_.commands_processed, stats_.error_replies, stats_.keys_written,
          stats_.storage_errors);
      node_.AppendInfo(section, body);
    } else {
      node_.AppendInfo(section, body);
    }
    if (body.empty() && section != "keyspace") continue;
    if (!text.empty()) text += "\r\n";
    std::string title = section;
    title[0] =
        static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    text += "# " + title + "\r\n" + body;
  }
  return text;
}

}  // namespace gossipkv
