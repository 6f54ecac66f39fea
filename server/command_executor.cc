// The client command table and its handlers (the node-level ones are in
// command_cluster.cc). Each handler reads its
// arguments from a Call, does its work through the Call's WriteSet, and
// appends exactly one reply.
#include "server/command_executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "server/command_call.h"
#include "server/resp_writer.h"
#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {

struct CommandExecutor::CommandSpec {
  Handler handler;
  int min_args;    // including the command name
  int max_args;    // -1: unbounded
  Role role;       // the least that may run it (server/auth.h)
  int index = -1;  // in CommandNames()
};

const std::unordered_map<std::string, CommandExecutor::CommandSpec>&
CommandExecutor::Table() {
  using E = CommandExecutor;
  static const std::unordered_map<std::string, CommandSpec> kTable = [] {
    std::unordered_map<std::string, CommandSpec> table = {
        {"PING", {&E::Ping, 1, 2, Role::kRead}},
        {"ECHO", {&E::Echo, 2, 2, Role::kRead}},
        {"GET", {&E::Get, 2, 2, Role::kRead}},
        {"SET", {&E::Set, 3, -1, Role::kWrite}},
        {"DEL", {&E::Del, 2, -1, Role::kWrite}},
        {"EXISTS", {&E::Exists, 2, -1, Role::kRead}},
        {"MGET", {&E::MGet, 2, -1, Role::kRead}},
        {"MSET", {&E::MSet, 3, -1, Role::kWrite}},
        {"DBSIZE", {&E::DbSize, 1, 1, Role::kRead}},
        {"INFO", {&E::Info, 1, -1, Role::kRead}},
        {"QUIT", {&E::Quit, 1, 1, Role::kRead}},
        {"COMMAND", {&E::Command, 1, -1, Role::kRead}},
        {"CONFIG", {&E::Config, 2, -1, Role::kAdmin}},
        {"SELECT", {&E::Select, 2, 2, Role::kRead}},
        {"VGET", {&E::VGet, 2, 3, Role::kRead}},
        {"VSET", {&E::VSet, 4, 4, Role::kWrite}},
        {"VDEL", {&E::VDel, 3, 3, Role::kWrite}},
        {"MEMBERS", {&E::MembersCommand, 1, 1, Role::kRead}},
        {"REPLICAS", {&E::ReplicasCommand, 2, 2, Role::kRead}},
        {"CONSISTENCY", {&E::Consistency, 2, 2, Role::kRead}},
        {"DIGEST", {&E::Digest, 1, 2, Role::kRead}},
        {"FAULT", {&E::FaultCommand, 2, -1, Role::kAdmin}},
        {"CLUSTER", {&E::ClusterCommand, 2, -1, Role::kAdmin}},
    };
    // Indexes in name order, as CommandNames() lists them.
    std::vector<std::string> names;
    for (const auto& [name, spec] : table) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (size_t i = 0; i < names.size(); ++i)
      table[names[i]].index = static_cast<int>(i);
    return table;
  }();
  return kTable;
}

const CommandExecutor::CommandSpec* CommandExecutor::Find(
    std::string_view name) {
  // Command names are short: uppercase on the stack-sized SSO string.
  auto it = Table().find(AsciiUpper(name));
  return it == Table().end() ? nullptr : &it->second;
}

int CommandExecutor::IndexOf(std::string_view name) {
  const CommandSpec* spec = Find(name);
  return spec == nullptr ? -1 : spec->index;
}

std::vector<std::string> CommandExecutor::CommandNames() {
  std::vector<std::string> names(Table().size());
  for (const auto& [name, spec] : Table()) names[spec.index] = name;
  return names;
}

std::optional<Role> CommandExecutor::RoleOf(std::string_view name) {
  const CommandSpec* spec = Find(name);
  if (spec == nullptr) return std::nullopt;
  return spec->role;
}

CommandExecutor::CommandExecutor(VersionedStore& store,
                                 const ClientLimits& limits, NodeContext& node)
    : store_(store), limits_(limits), node_(node) {}

CommandExecutor::After CommandExecutor::Execute(std::vector<std::string>& args,
                                                WriteSet& batch,
                                                std::string& out) {
  ++stats_.commands_processed;
  written_.clear();
  consistency_.reset();
  const CommandSpec* spec = Find(args[0]);
  last_command_ = spec == nullptr ? -1 : spec->index;
  if (spec == nullptr) {
    std::string shown;
    for (size_t i = 1; i < args.size() && i < 4; ++i) {
      shown += fmt::format("'{}' ", EscapeForDisplay(args[i], 32));
    }
    resp::AppendError(
        out,
        fmt::format("ERR unknown command '{}', with args beginning with: {}",
                    EscapeForDisplay(args[0], 32), shown));
    ++stats_.error_replies;
    return After::kContinue;
  }
  const int n = static_cast<int>(args.size());
  if (n < spec->min_args || (spec->max_args >= 0 && n > spec->max_args)) {
    resp::AppendError(
        out, fmt::format("ERR wrong number of arguments for '{}' command",
                         AsciiLower(EscapeForDisplay(args[0], 32))));
    ++stats_.error_replies;
    return After::kContinue;
  }
  Call call{args, batch, out};
  (this->*(spec->handler))(call);
  return call.after;
}

bool CommandExecutor::CheckKey(Call& c, std::string_view key) {
  if (key.size() <= limits_.max_key_bytes) return true;
  resp::AppendError(c.out,
                    fmt::format("ERR key too large: {} bytes (max {} bytes)",
                                key.size(), limits_.max_key_bytes));
  ++stats_.error_replies;
  return false;
}

bool CommandExecutor::CheckValue(Call& c, std::string_view value) {
  if (value.size() <= limits_.max_value_bytes) return true;
  resp::AppendError(c.out,
                    fmt::format("ERR value too large: {} bytes (max {} bytes)",
                                value.size(), limits_.max_value_bytes));
  ++stats_.error_replies;
  return false;
}

bool CommandExecutor::CheckWritable(Call& c) {
  if (std::string refusal = node_.WriteRefusal(); !refusal.empty()) {
    ++stats_.error_replies;
    resp::AppendError(c.out, "ERR " + refusal);
    return false;
  }
  Status writable = store_.engine().Writable();
  if (writable.ok()) return true;
  ++stats_.writes_refused_disk;
  ++stats_.error_replies;
  resp::AppendError(
      c.out, fmt::format("MISCONF gossipkv cannot write to its data directory "
                         "({}); commands that modify data are refused until "
                         "it can, reads are served",
                         writable.message()));
  return false;
}

void CommandExecutor::StorageError(Call& c, const Status& status) {
  ++stats_.error_replies;
  if (status.IsLimitExceeded())  // the write itself (WriteSet::CheckFits)
    return resp::AppendError(c.out, "ERR " + status.message());
  ++stats_.storage_errors;
  resp::AppendError(c.out, (status.IsCorruption() ? "CORRUPT " : "IOERR ") +
                               status.message());
}

void CommandExecutor::Ping(Call& c) {
  if (c.args.size() == 2) {
    resp::AppendBulk(c.out, c.args[1]);
  } else {
    resp::AppendSimple(c.out, "PONG");
  }
}

void CommandExecutor::Echo(Call& c) { resp::AppendBulk(c.out, c.args[1]); }

void CommandExecutor::Get(Call& c) {
  if (!CheckKey(c, c.args[1]) || !CheckReadQuorum(c, 1)) return;
  auto entry = ReadKey(c, c.args[1]);
  if (!entry) return StorageError(c, entry.error());
  if (!entry->has_value() || (*entry)->IsDeleted())
    return resp::AppendNull(c.out);
  ObserveSiblings(**entry);
  resp::AppendBulk(c.out, (*entry)->Winner()->value);
}

void CommandExecutor::Set(Call& c) {
  if (c.args.size() != 3) {
    resp::AppendError(c.out,
                      "ERR syntax error: SET options (EX, PX, NX, XX, ...) are "
                      "not supported");
    ++stats_.error_replies;
    return;
  }
  if (!CheckKey(c, c.args[1]) || !CheckValue(c, c.args[2])) return;
  if (!CheckWritable(c)) return;
  auto written = c.batch.Write(c.args[1], c.args[2], nullptr);
  if (!written) return StorageError(c, written.error());
  Wrote(c.args[1]);
  resp::AppendSimple(c.out, "OK");
}

void CommandExecutor::MSet(Call& c) {
  if (c.args.size() % 2 != 1) {
    resp::AppendError(c.out,
                      "ERR wrong number of arguments for 'mset' command");
    ++stats_.error_replies;
    return;
  }
  for (size_t i = 1; i < c.args.size(); i += 2) {
    if (!CheckKey(c, c.args[i]) || !CheckValue(c, c.args[i + 1])) return;
  }
  if (!CheckWritable(c)) return;
  for (size_t i = 1; i < c.args.size(); i += 2) {  // all or none
    Status fits = c.batch.CheckFits(c.args[i], c.args[i + 1], nullptr);
    if (!fits.ok()) return StorageError(c, fits);
  }
  for (size_t i = 1; i < c.args.size(); i += 2) {
    auto written = c.batch.Write(c.args[i], c.args[i + 1], nullptr);
    if (!written) return StorageError(c, written.error());
    Wrote(c.args[i]);
  }
  resp::AppendSimple(c.out, "OK");
}

void CommandExecutor::Del(Call& c) {
  for (size_t i = 1; i < c.args.size(); ++i) {
    if (!CheckKey(c, c.args[i])) return;
  }
  if (!CheckWritable(c)) return;
  int64_t removed = 0;
  for (size_t i = 1; i < c.args.size(); ++i) {
    AdoptQuorumRead(c, c.args[i]);
    auto entry = c.batch.Read(c.args[i]);
    if (!entry) return StorageError(c, entry.error());
    // Nothing this node knows of to delete: writing a tombstone with an
    // empty context would cover nothing anyway.
    if (!entry->has_value() || (*entry)->AllTombstones()) continue;
    if (!(*entry)->IsDeleted()) ++removed;
    auto written = c.batch.Write(c.args[i], std::nullopt, nullptr);
    if (!written) return StorageError(c, written.error());
    Wrote(c.args[i]);
  }
  resp::AppendInteger(c.out, removed);
}

void CommandExecutor::Exists(Call& c) {
  int64_t found = 0;
  for (size_t i = 1; i < c.args.size(); ++i) {
    if (!CheckKey(c, c.args[i])) return;
  }
  if (!CheckReadQuorum(c, 1)) return;
  for (size_t i = 1; i < c.args.size(); ++i) {
    auto entry = ReadKey(c, c.args[i]);
    if (!entry) return StorageError(c, entry.error());
    if (entry->has_value() && !(*entry)->IsDeleted()) ++found;
  }
  resp::AppendInteger(c.out, found);
}

void CommandExecutor::MGet(Call& c) {
  for (size_t i = 1; i < c.args.size(); ++i) {
    if (!CheckKey(c, c.args[i])) return;
  }
  if (!CheckReadQuorum(c, 1)) return;
  std::string reply;
  resp::AppendArrayHeader(reply, c.args.size() - 1);
  for (size_t i = 1; i < c.args.size(); ++i) {
    auto entry = ReadKey(c, c.args[i]);
    if (!entry) return StorageError(c, entry.error());
    if (!entry->has_value() || (*entry)->IsDeleted()) {
      resp::AppendNull(reply);
    } else {
      ObserveSiblings(**entry);
      resp::AppendBulk(reply, (*entry)->Winner()->value);
    }
    if (reply.size() > limits_.max_reply_bytes) {
      resp::AppendError(
          c.out,
          fmt::format("ERR reply too large (max {} bytes): ask for fewer keys",
                      limits_.max_reply_bytes));
      ++stats_.error_replies;
      return;
    }
  }
  c.out.append(reply);
}

void CommandExecutor::DbSize(Call& c) {
  resp::AppendInteger(c.out, static_cast<int64_t>(store_.live_key_count()));
}

void CommandExecutor::Info(Call& c) {
  std::vector<std::string> sections(c.args.begin() + 1, c.args.end());
  resp::AppendBulk(c.out, InfoText(sections));
}

void CommandExecutor::Quit(Call& c) {
  resp::AppendSimple(c.out, "OK");
  c.after = After::kClose;
}

void CommandExecutor::Command(Call& c) {
  // redis-cli asks for COMMAND DOCS at start-up; an empty answer is enough.
  if (c.args.size() >= 2 && AsciiUpper(c.args[1]) == "COUNT") {
    resp::AppendInteger(c.out, 17);
    return;
  }
  resp::AppendArrayHeader(c.out, 0);
}

void CommandExecutor::Config(Call& c) {
  // redis-benchmark reads CONFIG GET save/appendonly; nothing is settable.
  if (AsciiUpper(c.args[1]) == "GET") return resp::AppendArrayHeader(c.out, 0);
  resp::AppendError(
      c.out,
      "ERR CONFIG supports only GET; settings live in the node's TOML file");
  ++stats_.error_replies;
}

void CommandExecutor::Select(Call& c) {
  if (c.args[1] == "0") return resp::AppendSimple(c.out, "OK");
  resp::AppendError(c.out,
                    "ERR DB index is out of range (gossipkv has only db 0)");
  ++stats_.error_replies;
}

void CommandExecutor::VGet(Call& c) {
  // VGET key LOCAL: this node's replica only, whatever the read level.
  const bool local = c.args.size() == 3;
  if (local && AsciiLower(c.args[2]) != "local") {
    resp::AppendError(c.out, "ERR usage: VGET key [LOCAL]");
    ++stats_.error_replies;
    return;
  }
  if (!CheckKey(c, c.args[1])) return;
  if (!local && !CheckReadQuorum(c, 1)) return;
  auto entry = local ? c.batch.Read(c.args[1]) : ReadKey(c, c.args[1]);
  if (!entry) return StorageError(c, entry.error());
  // [context, [[value-or-nil, dot, timestamp_ms], ...]]; tombstones appear
  // as nil values so a client sees a delete that conflicts with a write.
  if (!entry->has_value()) {
    // Absent, perhaps collected: the context is what this node remembers.
    auto clock = c.batch.ClockOf(c.args[1]);
    if (!clock) return StorageError(c, clock.error());
    resp::AppendArrayHeader(c.out, 2);
    resp::AppendBulk(
        c.out, EncodeContext(c.args[1], clock->value_or(VersionVector())));
    resp::AppendArrayHeader(c.out, 0);
    return;
  }
  const Entry& e = **entry;
  ObserveSiblings(e);
  size_t values = 0;
  for (const auto& s : e.siblings) values += s.value.size();
  if (values > limits_.max_reply_bytes) {
    resp::AppendError(
        c.out,
        fmt::format("ERR reply too large (max {} bytes): {} siblings hold {} "
                    "bytes; VSET with context {} replaces them all",
                    limits_.max_reply_bytes, e.siblings.size(), values,
                    EncodeContext(c.args[1], e.clock)));
    ++stats_.error_replies;
    return;
  }
  resp::AppendArrayHeader(c.out, 2);
  resp::AppendBulk(c.out, EncodeContext(c.args[1], e.clock));
  resp::AppendArrayHeader(c.out, e.siblings.size());
  for (const auto& s : e.siblings) {
    resp::AppendArrayHeader(c.out, 3);
    if (s.tombstone) {
      resp::AppendNull(c.out);
    } else {
      resp::AppendBulk(c.out, s.value);
    }
    resp::AppendBulk(c.out, s.dot.ToString());
    resp::AppendInteger(c.out, s.timestamp_ms);
  }
}

void CommandExecutor::VSet(Call& c) {
  if (!CheckKey(c, c.args[1]) || !CheckValue(c, c.args[2])) return;
  if (!CheckWritable(c)) return;
  auto context = DecodeContext(c.args[1], c.args[3]);
  if (!context) {
    resp::AppendError(c.out,
                      "ERR " + context.error().message() +
                          " (pass the token VGET returned for this key)");
    ++stats_.error_replies;
    return;
  }
  auto written = c.batch.Write(c.args[1], c.args[2], &*context);
  if (!written) return StorageError(c, written.error());
  Wrote(c.args[1]);
  resp::AppendSimple(c.out, "OK");
}

void CommandExecutor::VDel(Call& c) {
  if (!CheckKey(c, c.args[1])) return;
  if (!CheckWritable(c)) return;
  auto context = DecodeContext(c.args[1], c.args[2]);
  if (!context) {
    resp::AppendError(c.out,
                      "ERR " + context.error().message() +
                          " (pass the token VGET returned for this key)");
    ++stats_.error_replies;
    return;
  }
  auto written = c.batch.Write(c.args[1], std::nullopt, &*context);
  if (!written) return StorageError(c, written.error());
  Wrote(c.args[1]);
  resp::AppendInteger(c.out, 1);
}

}  // namespace gossipkv
