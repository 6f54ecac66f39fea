// CommandExecutor: runs parsed client commands (GET, SET, VGET, ...) against
// a node's VersionedStore and encodes the RESP replies.
//
// Writes go into a caller-owned WriteSet and are not durable until the
// caller commits it: the session groups every command of one read from the
// socket into one WriteSet, commits once (one fsync for a whole pipeline),
// and only then sends the replies. Reads within that group see its writes.
// While the store's engine refuses writes (a full or failing disk), every
// command that would write is refused at once with -MISCONF, as Redis does
// when it cannot persist; reads are served as usual.
//
// What only the node knows — INFO sections about clients, uptime and peers,
// the member list, fault injection — comes from a NodeContext. Owned by the
// node's event-loop thread.
#pragma once

#include <prometheus/histogram.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/membership.h"
#include "cluster/ring.h"
#include "config/config.h"
#include "replication/quorum_read.h"
#include "store/versioned_store.h"

namespace gossipkv {

// The node-level facts and controls the executor does not own.
class NodeContext {
 public:
  virtual ~NodeContext() = default;
  // Appends "key:value\r\n" lines of `section` ("server", "clients",
  // "membership", "peers", "replication", "stats", ...); nothing if none.
  virtual void AppendInfo(std::string_view section, std::string& out) = 0;
  // Every member this node knows, itself first.
  virtual std::vector<MemberView> Members() = 0;
  // The ring of the members this node knows (cluster/ring.h), and the
  // partitions this node owns in it.
  virtual const Ring& ring() = 0;
  virtual std::vector<uint32_t> OwnedPartitions() = 0;
  // FAULT BLOCK/UNBLOCK/DROP/STATUS: `args` starts at the subcommand;
  // appends the reply.
  virtual void Fault(const std::vector<std::string>& args,
                     std::string& out) = 0;
  // CLUSTER LEAVE | FORGET id | NODES | RING: `args` starts at the subcommand;
  // appends the reply.
  virtual void Cluster(const std::vector<std::string>& args,
                       std::string& out) = 0;
  // Why this node refuses writes whatever its disk says (it was forgotten
  // by the cluster, so nothing it stores would replicate); empty if it
  // takes them.
  virtual std::string WriteRefusal() { return {}; }
};

// What a session's quorum read found (GroupCommitter::Read), for the reads
// it runs next: per key, the join of its owners' answers and how many
// answered. Reads at `level` above 1 join this node's entry with it, and
// are -NOREPLICAS for a key fewer than `level` owners answered.
struct ReadView {
  const std::unordered_map<std::string, KeyRead>* reads = nullptr;
  uint32_t level = 1;
  uint32_t timeout_ms = 0;  // named in -NOREPLICAS
  Status failed;            // the commit this node's answers waited for
};

struct CommandStats {
  uint64_t commands_processed = 0;
  uint64_t error_replies = 0;
  uint64_t keys_written = 0;
  uint64_t storage_errors = 0;
  uint64_t writes_refused_disk = 0;   // -MISCONF: the disk refuses writes
  uint64_t read_quorum_failures = 0;  // reads answered -NOREPLICAS
};

class CommandExecutor {
 public:
  enum class After { kContinue, kClose };

  CommandExecutor(VersionedStore& store, const ClientLimits& limits,
                  NodeContext& node);

  // Runs `args` (args[0] is the command name) within `batch`, appending the
  // reply to `out`. kClose after QUIT.
  After Execute(std::vector<std::string>& args, WriteSet& batch,
                std::string& out);

  const CommandStats& stats() const { return stats_; }
  // What INFO `sections` answers (none, "all" or "default": every section).
  std::string InfoText(std::vector<std::string> sections);
  VersionedStore& store() { return store_; }
  // The least role that may run command `name` (any case); none for a
  // command the table does not have.
  static std::optional<Role> RoleOf(std::string_view name);
  // Every command's name (upper case), in a fixed order: the indexes
  // last_command() returns.
  static std::vector<std::string> CommandNames();
  // The index of command `name` (any case) in CommandNames(); -1 if none.
  static int IndexOf(std::string_view name);
  // The index of the command the last Execute ran; -1 if it was unknown.
  int last_command() const { return last_command_; }
  // The keys the last Execute wrote (a client's write the session may make
  // wait for other owners, Coordinator).
  const std::vector<std::string>& last_written() const { return written_; }
  // The write quorum the last Execute set (CONSISTENCY ONE | QUORUM |
  // ALL: 1, N/2 + 1 or N of the ring's N), for its session; none if it set
  // none.
  std::optional<uint32_t> last_consistency() const { return consistency_; }
  // The keys command `args` reads from its owners when its connection's
  // read level is above 1 (GET, MGET, EXISTS, VGET without LOCAL, and
  // DEL, whose tombstone then covers what the owners hold); empty
  // for any other command.
  static std::vector<std::string> QuorumReadKeys(
      const std::vector<std::string>& args);
  // What the next Executes read beside this node's store (null: nothing,
  // reads are this node's alone); the caller keeps it alive meanwhile.
  void set_read_view(const ReadView* view) { view_ = view; }
  // Where reads record how many versions they found; none by default.
  void set_read_siblings(prometheus::Histogram* histogram) {
    read_siblings_ = histogram;
  }

 private:
  struct Call;
  using Handler = void (CommandExecutor::*)(Call&);
  struct CommandSpec;
  static const std::unordered_map<std::string, CommandSpec>& Table();
  static const CommandSpec* Find(std::string_view name);

  void Ping(Call& c);
  void Echo(Call& c);
  void Get(Call& c);
  void Set(Call& c);
  void Del(Call& c);
  void Exists(Call& c);
  void MGet(Call& c);
  void MSet(Call& c);
  void DbSize(Call& c);
  void Info(Call& c);
  void Quit(Call& c);
  void Command(Call& c);
  void Config(Call& c);
  void Select(Call& c);
  void VGet(Call& c);
  void VSet(Call& c);
  void VDel(Call& c);
  void MembersCommand(Call& c);
  void ReplicasCommand(Call& c);
  void Consistency(Call& c);
  void Digest(Call& c);
  void FaultCommand(Call& c);
  void ClusterCommand(Call& c);

  // Error replies for the common failures; false when the call must stop.
  bool CheckKey(Call& c, std::string_view key);
  bool CheckValue(Call& c, std::string_view value);
  bool CheckWritable(Call& c);
  void StorageError(Call& c, const Status& status);
  void ObserveSiblings(const Entry& entry) {
    if (read_siblings_ != nullptr)
      read_siblings_->Observe(static_cast<double>(entry.siblings.size()));
  }
  void AppendStorageInfo(std::string& out);
  // Quorum reads (command_read.cc): false, with -NOREPLICAS (or the
  // commit's error) in the reply, when a key of args[first..] is short of
  // the read level; ReadKey joins this node's entry with the owners'.
  bool CheckReadQuorum(Call& c, size_t first);
  Result<std::optional<Entry>> ReadKey(Call& c, const std::string& key);
  // DEL above ONE: what the owners answered for `key` joins this node's
  // entry first, so the tombstone covers every version the read saw.
  void AdoptQuorumRead(Call& c, const std::string& key);
  void Wrote(std::string_view key) {
    ++stats_.keys_written;
    written_.emplace_back(key);
  }

  VersionedStore& store_;
  ClientLimits limits_;
  NodeContext& node_;
  CommandStats stats_;
  int last_command_ = -1;
  std::vector<std::string> written_;
  std::optional<uint32_t> consistency_;
  prometheus::Histogram* read_siblings_ = nullptr;
  const ReadView* view_ = nullptr;
};

}  // namespace gossipkv
