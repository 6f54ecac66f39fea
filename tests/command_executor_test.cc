// CommandExecutor against an in-memory store: replies byte for byte,
// conflicts through VGET/VSET, limits and error replies.
#include "server/command_executor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/memory_engine.h"
#include "util/bytes.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

class FakeNode : public NodeContext {
 public:
  void AppendInfo(std::string_view section, std::string& out) override {
    if (section == "server") out += "node_id:test\r\n";
  }
  std::vector<MemberView> Members() override {
    MemberView self{
        "n1", "127.0.0.1:1", "127.0.0.1:2", 1, 5, Liveness::kAlive, 0, 0, true};
    MemberView peer{"n2", "127.0.0.1:3",      "127.0.0.1:4", 1,
                    9,    Liveness::kSuspect, 2500,          3.25,
                    false};
    return {self, peer};
  }
  const Ring& ring() override { return ring_; }
  std::vector<uint32_t> OwnedPartitions() override { return {0, 1, 2, 3}; }
  // Two members, so each owns every partition: 4 of them, over the
  // fixture's 2^16 segments.
  Ring ring_{{"n1", "n2"}, {.partition_bits = 2}};
  void Fault(const std::vector<std::string>& args, std::string& out) override {
    fault_args = args;
    out += "+OK\r\n";
  }
  void Cluster(const std::vector<std::string>& args,
               std::string& out) override {
    cluster_args = args;
    out += "+OK\r\n";
  }
  std::vector<std::string> fault_args;
  std::vector<std::string> cluster_args;
};

// MemoryEngine behind a switch that refuses writes, as a full disk does.
class RefusingEngine final : public Engine {
 public:
  Result<std::optional<std::string>> Get(Column column,
                                         std::string_view key) override {
    return inner_.Get(column, key);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visit) override {
    return inner_.Scan(column, begin, end, visit);
  }
  Status Write(const WriteBatch& batch) override {
    GOSSIPKV_RETURN_IF_ERROR(Writable());
    return inner_.Write(batch);
  }
  std::unique_ptr<EngineReader> NewSnapshot() override {
    return inner_.NewSnapshot();
  }
  Status Writable() override {
    return refusal.empty() ? Status::Ok() : Status::IOError(refusal);
  }

  std::string refusal;  // empty: writes are accepted

 private:
  MemoryEngine inner_;
};

class CommandExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.max_key_bytes = 16;
    limits_.max_value_bytes = 64;
    store_ = std::move(VersionedStore::Open(engine_, "n1", {}, clock_, random_))
                 .value();
    executor_ = std::make_unique<CommandExecutor>(*store_, limits_, info_);
  }

  // Runs one command in its own committed batch and returns the raw reply.
  std::string Run(std::vector<std::string> args) {
    WriteSet batch(*store_);
    std::string out;
    last_after_ = executor_->Execute(args, batch, out);
    EXPECT_TRUE(batch.Commit().ok());
    return out;
  }

  MemoryEngine engine_;
  ManualClock clock_;
  Random random_{1};
  ClientLimits limits_;
  FakeNode info_;
  std::unique_ptr<VersionedStore> store_;
  std::unique_ptr<CommandExecutor> executor_;
  CommandExecutor::After last_after_ = CommandExecutor::After::kContinue;
};

TEST_F(CommandExecutorTest, BasicCommands) {
  EXPECT_EQ(Run({"PING"}), "+PONG\r\n");
  EXPECT_EQ(Run({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(Run({"ECHO", "x"}), "$1\r\nx\r\n");
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(Run({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(Run({"MSET", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(Run({"MGET", "a", "missing", "b"}),
            "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  EXPECT_EQ(Run({"EXISTS", "a", "b", "missing", "a"}), ":3\r\n");
  EXPECT_EQ(Run({"DBSIZE"}), ":3\r\n");
  EXPECT_EQ(Run({"DEL", "a", "missing"}), ":1\r\n");
  EXPECT_EQ(Run({"DEL", "a"}), ":0\r\n") << "already deleted";
  EXPECT_EQ(Run({"GET", "a"}), "$-1\r\n");
  EXPECT_EQ(Run({"DBSIZE"}), ":2\r\n");
  EXPECT_EQ(Run({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(Run({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(Run({"CONFIG", "GET", "save"}), "*0\r\n");
  EXPECT_EQ(Run({"QUIT"}), "+OK\r\n");
  EXPECT_EQ(last_after_, CommandExecutor::After::kClose);
}

TEST_F(CommandExecutorTest, BinarySafeValues) {
  std::string value("\0\r\n\xff", 4);
  EXPECT_EQ(Run({"SET", std::string("k\0", 2), value}), "+OK\r\n");
  EXPECT_EQ(Run({"GET", std::string("k\0", 2)}), "$4\r\n" + value + "\r\n");
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n");
}

TEST_F(CommandExecutorTest, ReadsInABatchSeeItsWrites) {
  WriteSet batch(*store_);
  std::string out;
  std::vector<std::vector<std::string>> pipeline = {
      {"SET", "k", "1"}, {"GET", "k"}, {"SET", "k", "2"}, {"GET", "k"}};
  for (auto& args : pipeline) executor_->Execute(args, batch, out);
  EXPECT_EQ(out, "+OK\r\n$1\r\n1\r\n+OK\r\n$1\r\n2\r\n");
  EXPECT_FALSE(store_->Get("k")->has_value()) << "not stored before commit";
  ASSERT_TRUE(batch.Commit().ok());
  EXPECT_EQ((*store_->Get("k"))->Winner()->value, "2");
  EXPECT_EQ((*store_->Get("k"))->siblings.size(), 1u);
}

TEST_F(CommandExecutorTest, ErrorsNameTheProblem) {
  EXPECT_EQ(
      Run({"FLY", "away"}),
      "-ERR unknown command 'FLY', with args beginning with: 'away' \r\n");
  EXPECT_EQ(Run({"GET"}),
            "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(Run({"GET", "a", "b"}),
            "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(Run({"MSET", "a", "1", "b"}),
            "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(Run({"SET", std::string(17, 'k'), "v"}),
            "-ERR key too large: 17 bytes (max 16 bytes)\r\n");
  EXPECT_EQ(Run({"SET", "k", std::string(65, 'v')}),
            "-ERR value too large: 65 bytes (max 64 bytes)\r\n");
  EXPECT_EQ(Run({"MSET", "a", "1", "b", std::string(65, 'v')}),
            "-ERR value too large: 65 bytes (max 64 bytes)\r\n");
  EXPECT_EQ(Run({"GET", "a"}), "$-1\r\n") << "a rejected MSET writes nothing";
  EXPECT_EQ(Run({"SET", "k", "v", "EX", "10"}),
            "-ERR syntax error: SET options (EX, PX, NX, XX, ...) are not "
            "supported\r\n");
  EXPECT_EQ(Run({"VSET", "k", "v", "!!!"}),
            "-ERR malformed context token (pass the token VGET returned for "
            "this key)\r\n");
  EXPECT_EQ(executor_->stats().error_replies, 9u);
}

TEST_F(CommandExecutorTest, CorruptEntryIsAnErrorReplyAndOthersStillServe) {
  Run({"SET", "good", "1"});
  Run({"SET", "bad", "1"});
  WriteBatch damage;
  damage.Put(Column::kEntries, store_->StorageKey("bad"), "\xff\xff garbage");
  ASSERT_TRUE(engine_.Write(damage).ok());
  // A restart reads the damaged record from disk.
  executor_.reset();
  store_ = std::move(VersionedStore::Open(engine_, "n1", {}, clock_, random_))
               .value();
  executor_ = std::make_unique<CommandExecutor>(*store_, limits_, info_);
  std::string reply = Run({"GET", "bad"});
  EXPECT_EQ(reply.rfind("-CORRUPT entry for key 'bad'", 0), 0u) << reply;
  EXPECT_EQ(Run({"SET", "bad", "2"}).rfind("-CORRUPT", 0), 0u);
  EXPECT_EQ(Run({"GET", "good"}), "$1\r\n1\r\n");
}

// Parses a VGET reply: context token and the sibling values (nil as "<nil>").
std::pair<std::string, std::vector<std::string>> ParseVGet(
    const std::string& reply) {
  std::pair<std::string, std::vector<std::string>> out;
  size_t pos = reply.find("\r\n") + 2;  // *2
  auto bulk = [&]() -> std::string {
    size_t eol = reply.find("\r\n", pos);
    std::string header = reply.substr(pos, eol - pos);
    pos = eol + 2;
    if (header == "$-1") return "<nil>";
    size_t len = std::stoul(header.substr(1));
    std::string s = reply.substr(pos, len);
    pos += len + 2;
    return s;
  };
  auto line = [&] {
    size_t eol = reply.find("\r\n", pos);
    std::string s = reply.substr(pos, eol - pos);
    pos = eol + 2;
    return s;
  };
  out.first = bulk();
  int n = std::stoi(line().substr(1));
  for (int i = 0; i < n; ++i) {
    line();  // *3
    out.second.push_back(bulk());
    bulk();  // dot
    line();  // :timestamp
  }
  return out;
}

TEST_F(CommandExecutorTest, SiblingsAndResolutionWithContexts) {
  Run({"SET", "k", "base"});
  auto [context, values] = ParseVGet(Run({"VGET", "k"}));
  EXPECT_EQ(values, (std::vector<std::string>{"base"}));
  // Two clients write with the same context: both are kept.
  EXPECT_EQ(Run({"VSET", "k", "one", context}), "+OK\r\n");
  EXPECT_EQ(Run({"VSET", "k", "two", context}), "+OK\r\n");
  auto [merged_context, siblings] = ParseVGet(Run({"VGET", "k"}));
  std::sort(siblings.begin(), siblings.end());
  EXPECT_EQ(siblings, (std::vector<std::string>{"one", "two"}));
  // Writing back with the merged context resolves to one value.
  EXPECT_EQ(Run({"VSET", "k", "resolved", merged_context}), "+OK\r\n");
  EXPECT_EQ(ParseVGet(Run({"VGET", "k"})).second,
            (std::vector<std::string>{"resolved"}));
  // VDEL with a context leaves a tombstone: GET sees nothing, VGET a nil.
  auto [ctx, _] = ParseVGet(Run({"VGET", "k"}));
  EXPECT_EQ(Run({"VDEL", "k", ctx}), ":1\r\n");
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(ParseVGet(Run({"VGET", "k"})).second,
            (std::vector<std::string>{"<nil>"}));
  // An absent key has no siblings, and a context with an empty clock.
  const std::string none = EncodeContext("nothing", VersionVector());
  EXPECT_EQ(Run({"VGET", "nothing"}), "*2\r\n$" + std::to_string(none.size()) +
                                          "\r\n" + none + "\r\n*0\r\n");
}

TEST_F(CommandExecutorTest, ForeignContextTokenIsRefused) {
  // k1 is written five times on another node n2, then three times here;
  // k1's clock therefore covers n2's dots 1 to 5.
  const Actor n2{"n2", 7};
  Entry k1_remote;
  for (int i = 1; i <= 5; ++i) {
    ApplyWrite(k1_remote, n2, k1_remote.clock, "n2-" + std::to_string(i), i,
               ConflictMode::kSiblings);
  }
  ASSERT_TRUE(store_->Merge("k1", k1_remote).value());
  for (const char* v : {"a", "b", "c"})
    ASSERT_EQ(Run({"SET", "k1", v}), "+OK\r\n");
  ASSERT_EQ(Run({"SET", "k2", "mine"}), "+OK\r\n");
  const auto [k1_token, k1_values] = ParseVGet(Run({"VGET", "k1"}));
  ASSERT_EQ(k1_values, (std::vector<std::string>{"c"}));
  const std::string k2_before = Run({"VGET", "k2"});

  // k1's token is refused for k2 (VSET and VDEL) and k2 is unchanged.
  EXPECT_EQ(Run({"VSET", "k2", "evil", k1_token}),
            "-ERR context token was read from another key (pass the token "
            "VGET returned for this key)\r\n");
  EXPECT_EQ(Run({"VDEL", "k2", k1_token})
                .rfind("-ERR context token was read from another key", 0),
            0u);
  EXPECT_EQ(Run({"VGET", "k2"}), k2_before);
  EXPECT_EQ(executor_->stats().error_replies, 2u);

  // n2 meanwhile acknowledged its own first write of k2, dot (n2, 1): a dot
  // k1's clock covers. Joined into k2's clock, that clock would have made
  // the merge drop the write as already seen; it is kept as a sibling.
  Entry k2_remote;
  ApplyWrite(k2_remote, n2, VersionVector(), "n2-write", 1,
             ConflictMode::kSiblings);
  const Dot n2_write = k2_remote.siblings[0].dot;
  ASSERT_EQ(n2_write.counter, 1u);
  ASSERT_TRUE(DecodeContext("k1", k1_token)->Covers(n2_write));
  EXPECT_TRUE(store_->Merge("k2", k2_remote).value());
  auto k2_values = ParseVGet(Run({"VGET", "k2"})).second;
  std::sort(k2_values.begin(), k2_values.end());
  EXPECT_EQ(k2_values, (std::vector<std::string>{"mine", "n2-write"}));

  // The same token still works for the key it was read from.
  EXPECT_EQ(Run({"VSET", "k1", "resolved", k1_token}), "+OK\r\n");
  EXPECT_EQ(ParseVGet(Run({"VGET", "k1"})).second,
            (std::vector<std::string>{"resolved"}));
}

TEST_F(CommandExecutorTest, UndecodableAndKeylessTokensAreClearErrors) {
  EXPECT_EQ(Run({"VSET", "k", "v", "!!!"}),
            "-ERR malformed context token (pass the token VGET returned for "
            "this key)\r\n");
  EXPECT_EQ(Run({"VDEL", "k", "A"}).rfind("-ERR malformed context token", 0),
            0u);
  // An empty token is what VGET of an absent key returned before tokens
  // carried their key.
  const std::string reply = Run({"VSET", "k", "v", ""});
  EXPECT_EQ(reply,
            "-ERR context token carries no key: an older format (pass the "
            "token VGET returned for this key)\r\n");
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n") << "nothing was written";
}

TEST_F(CommandExecutorTest, VgetRepliesAreBoundedAndStillResolvable) {
  ClientLimits small = limits_;
  small.max_reply_bytes = 64;
  CommandExecutor executor(*store_, small, info_);
  auto run = [&](std::vector<std::string> args) {
    WriteSet batch(*store_);
    std::string out;
    executor.Execute(args, batch, out);
    EXPECT_TRUE(batch.Commit().ok());
    return out;
  };
  const std::string empty = EncodeContext("k", VersionVector());
  ASSERT_EQ(run({"VSET", "k", std::string(40, 'a'), empty}), "+OK\r\n");
  ASSERT_EQ(run({"VSET", "k", std::string(40, 'b'), empty}), "+OK\r\n");
  const std::string reply = run({"VGET", "k"});
  ASSERT_EQ(reply.rfind("-ERR reply too large (max 64 bytes): 2 siblings", 0),
            0u)
      << reply;
  // The error carries the context that resolves them.
  const size_t at = reply.find("context ") + 8;
  const std::string context = reply.substr(at, reply.find(' ', at) - at);
  ASSERT_EQ(run({"VSET", "k", "one", context}), "+OK\r\n");
  EXPECT_EQ(ParseVGet(run({"VGET", "k"})).second,
            (std::vector<std::string>{"one"}));
}

TEST_F(CommandExecutorTest, VgetOfACollectedKeyCarriesItsClock) {
  ASSERT_EQ(Run({"SET", "k", "v"}), "+OK\r\n");
  ASSERT_EQ(Run({"DEL", "k"}), ":1\r\n");
  const Entry tombstone = store_->Get("k").value().value();
  ASSERT_TRUE(store_->batch().Collect("k", tombstone).value());
  ASSERT_TRUE(store_->batch().Commit().ok());
  // No siblings, and the context of the collected clock.
  const std::string context = EncodeContext("k", tombstone.clock);
  EXPECT_EQ(Run({"VGET", "k"}), "*2\r\n$" + std::to_string(context.size()) +
                                    "\r\n" + context + "\r\n*0\r\n");
  EXPECT_EQ(Run({"GET", "k"}), "$-1\r\n");
}

TEST_F(CommandExecutorTest, InfoHasTheSections) {
  Run({"SET", "k", "v"});
  std::string info = Run({"INFO"});
  // One key written; this INFO is the second command.
  const std::string root =
      fmt::format("\r\nmerkle_root:{:016x}\r\n", store_->tree().Root());
  ASSERT_NE(store_->tree().Root(), 0u);
  for (const std::string& fragment :
       {std::string("# Server\r\nnode_id:test\r\n"),
        std::string("# Storage\r\nkeys:1\r\nkeys_with_tombstones:1\r\n"), root,
        std::string("\r\nmerkle_segments:65536\r\nmerkle_depth:4\r\n"),
        std::string("# Stats\r\ntotal_commands_processed:2\r\n"
                    "error_replies:0\r\nkeys_written:1\r\n"),
        std::string("# Keyspace\r\ndb0:keys=1,expires=0\r\n")}) {
    EXPECT_NE(info.find(fragment), std::string::npos) << fragment << info;
  }
  std::string storage_only = Run({"INFO", "storage"});
  EXPECT_NE(storage_only.find("# Storage"), std::string::npos);
  EXPECT_EQ(storage_only.find("# Server"), std::string::npos);
}

TEST_F(CommandExecutorTest, MembersAndFaultGoToTheNode) {
  EXPECT_EQ(Run({"MEMBERS"}),
            "*2\r\n*6\r\n$2\r\nn1\r\n$11\r\n127.0.0.1:1\r\n$11\r\n127.0.0.1:"
            "2\r\n$4\r\nself\r\n"
            ":0\r\n$4\r\n0.00\r\n"
            "*6\r\n$2\r\nn2\r\n$11\r\n127.0.0.1:3\r\n$11\r\n127.0.0.1:4\r\n$"
            "7\r\nsuspect\r\n"
            ":2500\r\n$4\r\n3.25\r\n");
  EXPECT_EQ(Run({"fault", "BLOCK", "n2", "n3"}), "+OK\r\n");
  EXPECT_EQ(info_.fault_args, (std::vector<std::string>{"BLOCK", "n2", "n3"}));
  EXPECT_EQ(Run({"FAULT"}),
            "-ERR wrong number of arguments for 'fault' command\r\n");
  EXPECT_EQ(Run({"cluster", "leave"}), "+OK\r\n");
  EXPECT_EQ(info_.cluster_args, (std::vector<std::string>{"leave"}));
  EXPECT_EQ(Run({"CLUSTER"}),
            "-ERR wrong number of arguments for 'cluster' command\r\n");
  const Ring& ring = info_.ring_;
  const auto owners = ring.OwnerIds(ring.PartitionOfKey("k1"));
  EXPECT_EQ(
      Run({"replicas", "k1"}),
      fmt::format("*2\r\n$2\r\n{}\r\n$2\r\n{}\r\n", owners[0], owners[1]));
  EXPECT_EQ(Run({"REPLICAS", std::string(20, 'k')}),
            "-ERR key too large: 20 bytes (max 16 bytes)\r\n");
}

TEST(CommandExecutorDiskTest, WritesAreRefusedWithMisconfAndReadsServed) {
  RefusingEngine engine;
  ManualClock clock;
  Random random{1};
  FakeNode node;
  auto store =
      std::move(VersionedStore::Open(engine, "n1", {}, clock, random)).value();
  CommandExecutor executor(*store, ClientLimits{}, node);
  auto run = [&](std::vector<std::string> args) {
    WriteSet batch(*store);
    std::string out;
    executor.Execute(args, batch, out);
    EXPECT_TRUE(batch.Commit().ok()) << "a refused command left a change";
    return out;
  };
  ASSERT_EQ(run({"SET", "k", "v"}), "+OK\r\n");

  engine.refusal = "No space left on device";
  const std::string misconf =
      "-MISCONF gossipkv cannot write to its data directory (No space left on "
      "device); commands that modify data are refused until it can, reads "
      "are served\r\n";
  const std::vector<std::vector<std::string>> writes = {
      {"SET", "k", "w"},
      {"MSET", "a", "1", "b", "2"},
      {"DEL", "k"},
      {"VSET", "k", "w", "token"},
      {"VDEL", "k", "token"}};
  for (const auto& command : writes) EXPECT_EQ(run(command), misconf);
  EXPECT_EQ(run({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(run({"MGET", "k", "a"}), "*2\r\n$1\r\nv\r\n$-1\r\n");
  EXPECT_EQ(run({"EXISTS", "k", "a"}), ":1\r\n");
  EXPECT_EQ(run({"DBSIZE"}), ":1\r\n");
  EXPECT_EQ(run({"VGET", "k"}).rfind("*2\r\n", 0), 0u);
  EXPECT_EQ(run({"SET", "k", std::string(20 << 20, 'x')})
                .rfind("-ERR value too large", 0),
            0u)
      << "a bad request is still told what is wrong with it";
  EXPECT_NE(run({"INFO", "storage"}).find("writes_refused_disk:5\r\n"),
            std::string::npos);

  engine.refusal.clear();
  EXPECT_EQ(run({"SET", "k", "w"}), "+OK\r\n");
  EXPECT_EQ(run({"GET", "k"}), "$1\r\nw\r\n");
}

TEST_F(CommandExecutorTest, DigestPartitionsSumsTheirSegments) {
  Run({"SET", "a", "1"});
  Run({"SET", "b", "2"});
  Run({"SET", "c", "3"});
  auto partitions = [&] {
    std::string reply = Run({"DIGEST", "partitions"});
    const size_t body = reply.find("\r\n") + 2;
    std::vector<std::pair<uint32_t, uint64_t>> out;
    for (size_t i = body; i + 12 <= reply.size() - 2; i += 12) {
      out.emplace_back(ReadBigEndian32(std::string_view(reply).substr(i)),
                       ReadBigEndian64(std::string_view(reply).substr(i + 4)));
    }
    return out;
  };
  auto before = partitions();
  ASSERT_EQ(before.size(), 4u);
  uint64_t sum = 0;
  for (size_t p = 0; p < 4; ++p) {
    EXPECT_EQ(before[p].first, p);
    sum += before[p].second;
  }
  EXPECT_EQ(sum, store_->tree().Root());  // the tree sums its children
  // A write changes its own partition's hash only.
  Run({"SET", "a", "other"});
  auto after = partitions();
  const uint32_t moved = info_.ring_.PartitionOfKey("a");
  for (size_t p = 0; p < 4; ++p) {
    if (p == moved) {
      EXPECT_NE(after[p].second, before[p].second);
    } else {
      EXPECT_EQ(after[p].second, before[p].second) << p;
    }
  }
  EXPECT_EQ(Run({"DIGEST", "trees"}),
            "-ERR usage: DIGEST [LEAVES | PARTITIONS]\r\n");
  EXPECT_EQ(Run({"VGET", "a", "local"}), Run({"VGET", "a"}));
  EXPECT_EQ(Run({"VGET", "a", "remote"}), "-ERR usage: VGET key [LOCAL]\r\n");
}

}  // namespace
}  // namespace gossipkv
