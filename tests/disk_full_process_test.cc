// A real gossipkv-server whose data directory fills up: a 24 MiB tmpfs
// written with 100 KB values. Writes are refused with -MISCONF once the disk
// is full, every acknowledged write reads back, reads keep working for every
// client, writes succeed again once space is freed (no restart), and a node
// restarted on a full disk starts read-only and serves what it stored.
// Mounting needs root; without it the test is skipped.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "tests/server_process.h"

namespace gossipkv {
namespace {

namespace fs = std::filesystem;
using testing::InfoField;
using testing::ServerProcess;
using testing::Tmpfs;
using testing::WaitFor;

constexpr const char* kConfig = R"(
node_id = "n1"
[storage]
durability = "fsync"
write_buffer_mb = 4
disk_retry_ms = 100
)";

// The reply as text: a bulk's bytes, "(error) ...", "(integer) n", ...
std::string Reply(RespClient& client, const std::vector<std::string>& args) {
  auto r = client.Call(args);
  if (!r) return "<" + r.error().ToString() + ">";
  return r->type == RespValue::Type::kBulk ? r->text : r->ToString();
}

std::string Value(int i) {
  return std::string(100'000, static_cast<char>('a' + i % 26));
}

class DiskFullTest : public ::testing::Test {
 protected:
  // SETs new 100 KB values until one is refused with -MISCONF; remembers
  // every acknowledged one. False if that never happens.
  bool WriteUntilRefused(RespClient& client) {
    for (int tries = 0; tries < 2000; ++tries, ++next_) {
      const std::string key = "k" + std::to_string(next_);
      const std::string reply = Reply(client, {"SET", key, Value(next_)});
      if (reply == "OK") {
        acknowledged_[key] = next_;
      } else if (reply.rfind("(error) MISCONF", 0) == 0) {
        refusal_ = reply;
        return true;
      } else {
        // The group that found the disk full: not stored, not acknowledged.
        EXPECT_EQ(reply.rfind("(error) IOERR not stored: ", 0), 0u) << reply;
      }
    }
    return false;
  }

  void ExpectEveryAcknowledgedWrite(RespClient& client) {
    for (const auto& [key, i] : acknowledged_) {
      ASSERT_TRUE(Reply(client, {"GET", key}) == Value(i)) << "key " << key;
    }
    auto size = client.Call({"DBSIZE"});
    ASSERT_TRUE(size);
    EXPECT_EQ(size->integer, static_cast<int64_t>(acknowledged_.size()));
  }

  std::map<std::string, int> acknowledged_;
  std::string refusal_;
  int next_ = 0;
};

TEST_F(DiskFullTest, WritesAreRefusedWhileFullAndNothingAcknowledgedIsLost) {
  Tmpfs disk(24);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root)";
  const fs::path filler = disk.path() / "filler";
  // Freeing either later leaves room for more than one memtable, which the
  // node waits for before it takes writes again.
  disk.Fill("filler", 10 << 20);
  disk.Fill("reserve", 6 << 20);
  ServerProcess server(kConfig, {}, (disk.path() / "data").string());
  ASSERT_TRUE(server.running());
  auto writer = server.Connect();

  ASSERT_TRUE(WriteUntilRefused(*writer));
  EXPECT_GT(acknowledged_.size(), 20u);
  EXPECT_NE(refusal_.find("MISCONF gossipkv cannot write to its data "
                          "directory (IO error: No space left on device"),
            std::string::npos)
      << refusal_;
  // Still refused, for every write command, and reads work meanwhile.
  EXPECT_EQ(Reply(*writer, {"SET", "late", "v"}).rfind("(error) MISCONF", 0),
            0u);
  EXPECT_EQ(Reply(*writer, {"DEL", "k0"}).rfind("(error) MISCONF", 0), 0u);
  ExpectEveryAcknowledgedWrite(*writer);
  auto other = server.Connect();
  EXPECT_TRUE(Reply(*other, {"GET", "k0"}) == Value(0));
  EXPECT_EQ(Reply(*other, {"EXISTS", "k0", "late"}), "(integer) 1");
  EXPECT_NE(InfoField(server, "storage", "disk_error"), "");
  EXPECT_NE(InfoField(server, "storage", "writes_refused_disk"), "0");

  // Room again: the node takes writes without a restart.
  fs::remove(filler);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Reply(*writer, {"SET", "after", "room"}) == "OK";
      },
      std::chrono::seconds(10)));
  acknowledged_["after"] = -1;
  EXPECT_EQ(Reply(*other, {"GET", "after"}), "room");
  EXPECT_EQ(InfoField(server, "storage", "disk_error"), "");
  EXPECT_GE(std::stoi("0" + InfoField(server, "storage", "disk_resumes")), 1);
  acknowledged_.erase("after");
  EXPECT_EQ(Reply(*writer, {"DEL", "after"}), "(integer) 1");

  // Full again, then a restart on the full disk: the node starts read-only
  // and serves every acknowledged write.
  ASSERT_TRUE(WriteUntilRefused(*writer));
  writer.reset();
  other.reset();
  EXPECT_EQ(server.Stop(), 0);
  disk.Fill("filler2", 64 << 20);
  server.Restart();
  ASSERT_TRUE(server.running());
  EXPECT_EQ(InfoField(server, "storage", "disk_read_only"), "1");
  auto reader = server.Connect();
  ExpectEveryAcknowledgedWrite(*reader);
  EXPECT_EQ(Reply(*reader, {"SET", "late", "v"}).rfind("(error) MISCONF", 0),
            0u);

  // And it reopens writable once there is room.
  fs::remove(disk.path() / "filler2");
  fs::remove(disk.path() / "reserve");
  EXPECT_TRUE(WaitFor(
      [&] {
        return Reply(*reader, {"SET", "late", "v"}) == "OK";
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(InfoField(server, "storage", "disk_read_only"), "0");
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace gossipkv
